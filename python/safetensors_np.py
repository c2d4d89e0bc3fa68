"""Minimal safetensors reader/writer in plain numpy (no ``safetensors`` package).

File layout (https://github.com/huggingface/safetensors):

* 8 bytes: little-endian u64 ``N``, the size of the JSON header;
* ``N`` bytes: a UTF-8 JSON object ``{name: {"dtype", "shape",
  "data_offsets": [begin, end]}, "__metadata__": {str: str}}``, padded with
  spaces so that ``8 + N`` is a multiple of 8 (as the real library does);
* the tensor bytes, little-endian, row-major; offsets are relative to the
  end of the header.

Writing supports "F32", "F16" and "BF16".  BF16 is the float32 value rounded
to nearest, ties to even, to its upper 16 bits (stored as uint16 bits).
Reading returns float32 arrays for the floating types (F16/BF16 are upcast
exactly, F64 is rounded); integer/bool tensors keep their numpy type.

Sharded checkpoints follow the Hugging Face convention:
``model-00001-of-00003.safetensors`` ... plus ``model.safetensors.index.json``
holding ``{"metadata": {"total_size": bytes}, "weight_map": {name: file}}``.
"""

import json
import os
import struct

import numpy as np

__all__ = ["save_file", "load_file", "save_sharded", "load_dir",
           "read_header", "bf16_bits", "bf16_to_f32"]

# safetensors dtype -> (numpy storage dtype, item size)
_STORAGE = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"), "I64": np.dtype("<i8"), "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"), "I8": np.dtype("i1"), "U8": np.dtype("u1"),
    "U16": np.dtype("<u2"), "U32": np.dtype("<u4"), "U64": np.dtype("<u8"),
    "BOOL": np.dtype("?"),
}
_WRITABLE = ("F32", "F16", "BF16")


def bf16_bits(x):
    """float32 -> bfloat16 bits (uint16), round to nearest, ties to even.
    NaNs stay (quiet) NaNs; overflow rounds to +-inf as IEEE rounding does."""
    f = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
    u = f.view(np.uint32).astype(np.uint64)
    rounded = (u + np.uint64(0x7FFF) + ((u >> np.uint64(16)) & np.uint64(1)))
    out = (rounded >> np.uint64(16)).astype(np.uint16)
    nan = np.isnan(f)
    if nan.any():
        out[nan] = ((u[nan] >> np.uint64(16)).astype(np.uint16)
                    | np.uint16(0x0040))
    return out


def bf16_to_f32(bits):
    """bfloat16 bits (uint16) -> float32 (exact)."""
    b = np.ascontiguousarray(np.asarray(bits, dtype=np.uint16))
    return (b.astype(np.uint32) << np.uint32(16)).view(np.float32)


def _encode(arr, dtype):
    a = np.asarray(arr)
    if dtype == "F32":
        return np.ascontiguousarray(a, dtype="<f4")
    if dtype == "F16":
        return np.ascontiguousarray(a.astype(np.float32).astype("<f2"))
    if dtype == "BF16":
        return np.ascontiguousarray(bf16_bits(a).astype("<u2"))
    raise ValueError(f"unsupported safetensors dtype for writing: {dtype!r} "
                     f"(use one of {_WRITABLE})")


def _build(tensors, dtype, metadata):
    """Returns (header bytes incl. the 8-byte size, list of data buffers)."""
    if dtype not in _WRITABLE:
        raise ValueError(f"dtype must be one of {_WRITABLE}, got {dtype!r}")
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    buffers, offset = [], 0
    for name in sorted(tensors):
        enc = _encode(tensors[name], dtype)
        nbytes = enc.nbytes
        header[name] = {"dtype": dtype, "shape": list(enc.shape),
                        "data_offsets": [offset, offset + nbytes]}
        buffers.append(enc)
        offset += nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    return struct.pack("<Q", len(text)) + text, buffers, offset


def save_file(tensors, path, dtype="F32", metadata=None):
    """Writes ``tensors`` ({name: array}) to one .safetensors file, every
    tensor converted to ``dtype`` ("F32", "F16" or "BF16")."""
    head, buffers, _ = _build(tensors, dtype, metadata)
    tmp = str(path) + ".tmp"
    with open(tmp, "wb") as f:
        f.write(head)
        for b in buffers:
            f.write(b.tobytes())
    os.replace(tmp, path)


def read_header(path):
    """The parsed JSON header of a .safetensors file and the data offset."""
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) != 8:
            raise ValueError(f"{path}: not a safetensors file (too short)")
        (n,) = struct.unpack("<Q", raw)
        if n > 100 * 1024 * 1024:
            raise ValueError(f"{path}: header size {n} is implausible")
        header = json.loads(f.read(n).decode("utf-8"))
    return header, 8 + n


def load_file(path):
    """Reads a .safetensors file into {name: np.ndarray}; floating tensors
    are returned as float32 (F16/BF16 upcast exactly)."""
    header, start = read_header(path)
    size = os.path.getsize(path)
    data = np.memmap(path, dtype=np.uint8, mode="r") if size > start else None
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt = info["dtype"]
        if dt not in _STORAGE:
            raise ValueError(f"{path}: tensor {name}: unsupported dtype {dt}")
        shape = tuple(int(s) for s in info["shape"])
        begin, end = (int(o) for o in info["data_offsets"])
        storage = _STORAGE[dt]
        count = int(np.prod(shape, dtype=np.int64))
        if end - begin != count * storage.itemsize or start + end > size:
            raise ValueError(f"{path}: tensor {name}: bad data_offsets "
                             f"{[begin, end]} for {dt}{list(shape)}")
        raw = np.frombuffer(data[start + begin:start + end], dtype=storage) \
            if count else np.zeros(0, dtype=storage)
        if dt == "BF16":
            arr = bf16_to_f32(raw)
        elif dt in ("F16", "F64"):
            arr = raw.astype(np.float32)
        elif dt == "F32":
            arr = raw.astype(np.float32)  # copy: detach from the memmap
        else:
            arr = raw.copy()
        out[name] = arr.reshape(shape)
    del data
    return out


def save_sharded(tensors, directory, dtype="F32", num_shards=2, metadata=None):
    """Writes ``num_shards`` files ``model-0000i-of-0000n.safetensors`` in
    ``directory`` (tensors in sorted-name order, split into shards of
    roughly equal byte size; each shard gets at least one tensor) and
    ``model.safetensors.index.json``.  Returns the list of file names."""
    names = sorted(tensors)
    if num_shards < 1 or num_shards > len(names):
        raise ValueError(f"num_shards must be in [1, {len(names)}]")
    os.makedirs(directory, exist_ok=True)
    item = 4 if dtype == "F32" else 2
    sizes = [int(np.asarray(tensors[n]).size) * item for n in names]
    total = sum(sizes)
    # Greedy split on the cumulative size, keeping >= 1 tensor per shard.
    groups, cur, acc = [], [], 0
    for i, (name, sz) in enumerate(zip(names, sizes)):
        cur.append(name)
        acc += sz
        left_names = len(names) - i - 1
        left_shards = num_shards - len(groups) - 1
        if left_shards > 0 and (acc >= total * (len(groups) + 1) / num_shards
                                or left_names == left_shards):
            groups.append(cur)
            cur = []
    groups.append(cur)
    assert len(groups) == num_shards and all(groups), groups
    weight_map, files = {}, []
    for i, group in enumerate(groups):
        fname = f"model-{i + 1:05d}-of-{num_shards:05d}.safetensors"
        md = {"format": "pt"}
        md.update(metadata or {})
        save_file({n: tensors[n] for n in group},
                  os.path.join(directory, fname), dtype, md)
        files.append(fname)
        for n in group:
            weight_map[n] = fname
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    with open(os.path.join(directory, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=2)
        f.write("\n")
    return files


def load_dir(directory):
    """Loads a model directory: ``model.safetensors`` or the shards named in
    ``model.safetensors.index.json``.  Returns {name: float32 array}."""
    single = os.path.join(directory, "model.safetensors")
    index_path = os.path.join(directory, "model.safetensors.index.json")
    if os.path.exists(index_path):
        with open(index_path) as f:
            index = json.load(f)
        weight_map = index["weight_map"]
        out = {}
        for fname in sorted(set(weight_map.values())):
            part = load_file(os.path.join(directory, fname))
            for name, arr in part.items():
                if weight_map.get(name) != fname:
                    raise ValueError(f"{fname}: tensor {name} is not mapped to "
                                     f"this file in {index_path}")
                out[name] = arr
        missing = sorted(set(weight_map) - set(out))
        if missing:
            raise ValueError(f"{directory}: tensors in the index but in no "
                             f"shard: {missing[:5]}")
        return out
    if os.path.exists(single):
        return load_file(single)
    raise FileNotFoundError(f"{directory}: neither model.safetensors nor "
                            "model.safetensors.index.json")


def _self_test():
    import tempfile
    rng = np.random.default_rng(0)
    t = {"a": rng.standard_normal((3, 5)).astype(np.float32),
         "b.weight": rng.standard_normal(7).astype(np.float32),
         "c": np.array([1.0, -2.5, 65504.0, 1e-8], np.float32)}
    # bf16 rounding: ties to even, carry into the exponent.
    x = np.array([1.0, 1.00390625, 1.01171875, 3.4e38, -0.0], np.float32)
    got = bf16_to_f32(bf16_bits(x))
    assert got[1] == 1.0 and got[2] == 1.015625 and np.isinf(got[3]), got
    with tempfile.TemporaryDirectory() as d:
        for dt in _WRITABLE:
            p = os.path.join(d, f"x_{dt}.safetensors")
            save_file(t, p, dt, {"k": "v"})
            (n,) = struct.unpack("<Q", open(p, "rb").read(8))
            assert (8 + n) % 8 == 0
            back = load_file(p)
            for k in t:
                ref = {"F32": t[k], "F16": t[k].astype(np.float16),
                       "BF16": bf16_to_f32(bf16_bits(t[k]))}[dt]
                assert back[k].dtype == np.float32
                assert np.array_equal(back[k], np.asarray(ref, np.float32)), k
        sd = os.path.join(d, "sharded")
        save_sharded(t, sd, "F32", 3)
        back = load_dir(sd)
        assert set(back) == set(t)
        assert all(np.array_equal(back[k], t[k]) for k in t)
    print("safetensors_np self-test ok")


if __name__ == "__main__":
    _self_test()
