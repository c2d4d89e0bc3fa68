//===- Artifact.cpp - load and validate a Kiln artifact -------------------===//
#include "kiln/runtime/Artifact.h"

#include "kiln/runtime/ArtifactFormat.h"
#include "kiln/runtime/Error.h"
#include "kiln/runtime/LaunchPlan.h"
#include "kiln/runtime/Safetensors.h"

#include <nlohmann/json.hpp>

#include <cstring>
#include <set>

using namespace kiln::rt;
using json = nlohmann::json;

namespace {
/// Typed access to manifest fields with messages that name the JSON path.
class Reader {
public:
  explicit Reader(std::string name) : name(std::move(name)) {}

  static std::string join(const std::string &path, const std::string &key) {
    return path.empty() ? key : path + "." + key;
  }

  [[noreturn]] void fail(const std::string &path,
                         const std::string &msg) const {
    throw Error(name + ": manifest field '" + path + "': " + msg);
  }

  const json &get(const json &obj, const std::string &key,
                  const std::string &path) const {
    if (!obj.is_object())
      fail(path, "expected an object");
    auto it = obj.find(key);
    if (it == obj.end())
      fail(join(path, key), "missing");
    return *it;
  }
  std::string str(const json &obj, const std::string &key,
                  const std::string &path) const {
    const json &v = get(obj, key, path);
    if (!v.is_string())
      fail(join(path, key), "expected a string");
    return v.get<std::string>();
  }
  int64_t integer(const json &obj, const std::string &key,
                  const std::string &path, int64_t min = 0,
                  int64_t max = INT64_MAX) const {
    const json &v = get(obj, key, path);
    if (!v.is_number_integer())
      fail(join(path, key), "expected an integer");
    int64_t i = v.is_number_unsigned() && v.get<uint64_t>() > INT64_MAX
                    ? INT64_MAX
                    : v.get<int64_t>();
    if (i < min || i > max)
      fail(join(path, key), "value " + std::to_string(i) + " out of range [" +
                                std::to_string(min) + ", " +
                                std::to_string(max) + "]");
    return i;
  }
  double number(const json &obj, const std::string &key,
                const std::string &path) const {
    const json &v = get(obj, key, path);
    if (!v.is_number())
      fail(join(path, key), "expected a number");
    return v.get<double>();
  }
  bool boolean(const json &obj, const std::string &key,
               const std::string &path) const {
    const json &v = get(obj, key, path);
    if (!v.is_boolean())
      fail(join(path, key), "expected true or false");
    return v.get<bool>();
  }
  const json &array(const json &obj, const std::string &key,
                    const std::string &path) const {
    const json &v = get(obj, key, path);
    if (!v.is_array())
      fail(join(path, key), "expected an array");
    return v;
  }
  DType dtype(const json &obj, const std::string &key,
              const std::string &path) const {
    std::string s = str(obj, key, path);
    std::optional<DType> t = parseDType(s);
    if (!t)
      fail(join(path, key), "unknown dtype '" + s + "'");
    return *t;
  }
  std::vector<Dim> shape(const json &obj, const std::string &key,
                         const std::string &path) const {
    const json &arr = array(obj, key, path);
    if (arr.size() > 8)
      fail(join(path, key),
           "rank " + std::to_string(arr.size()) + " is larger than 8");
    std::vector<Dim> dims;
    for (size_t i = 0; i < arr.size(); ++i) {
      const json &d = arr[i];
      std::string where = join(path, key) + "[" + std::to_string(i) + "]";
      Dim dim;
      if (d.is_string()) {
        dim.symbol = d.get<std::string>();
        if (dim.symbol != "batch" && dim.symbol != "seq" &&
            dim.symbol != "context")
          fail(where, "unknown dynamic size '" + dim.symbol + "'");
      } else if (d.is_number_integer() && d.get<int64_t>() >= 0 &&
                 d.get<int64_t>() <= (int64_t(1) << 40)) {
        dim.value = d.get<int64_t>();
      } else {
        fail(where, "expected a size or one of batch, seq, context");
      }
      dims.push_back(dim);
    }
    return dims;
  }

private:
  std::string name;
};

ValueDesc parseValue(const Reader &r, const json &v, const std::string &path) {
  ValueDesc desc;
  desc.binding = r.str(v, "binding", path);
  std::string kind = r.str(v, "kind", path);
  if (kind == "index") {
    desc.kind = ValueDesc::Kind::Index;
    return desc;
  }
  if (kind != "tensor")
    r.fail(path + ".kind", "expected 'tensor' or 'index', got '" + kind + "'");
  desc.dtype = r.dtype(v, "dtype", path);
  desc.shape = r.shape(v, "shape", path);
  return desc;
}
} // namespace

const EntryDesc *Manifest::findEntry(const std::string &name) const {
  for (const EntryDesc &e : entries)
    if (e.name == name)
      return &e;
  return nullptr;
}

Manifest kiln::rt::parseManifest(const std::string &text,
                                 const std::string &name) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded())
    throw Error(name + ": the manifest is not valid JSON");
  Reader r(name);
  if (!doc.is_object())
    r.fail("", "expected an object");
  Manifest m;
  if (r.str(doc, "format", "") != "kiln-artifact")
    r.fail("format", "expected 'kiln-artifact'");
  m.formatVersion = r.integer(doc, "format_version", "", 0, UINT32_MAX);
  if (m.formatVersion != artifact::kFormatVersion)
    r.fail("format_version", "version " + std::to_string(m.formatVersion) +
                                 " is not supported by this runtime (expects " +
                                 std::to_string(artifact::kFormatVersion) +
                                 "): recompile the model with this Kiln");
  m.dtype = r.dtype(doc, "dtype", "");

  const json &model = r.get(doc, "model", "");
  ModelDesc &md = m.model;
  md.architecture = r.str(model, "architecture", "model");
  md.name = r.str(model, "name", "model");
  const int64_t kMaxSize = int64_t(1) << 32;
  md.hiddenSize = r.integer(model, "hidden_size", "model", 1, kMaxSize);
  md.intermediateSize =
      r.integer(model, "intermediate_size", "model", 1, kMaxSize);
  md.numLayers = r.integer(model, "num_hidden_layers", "model", 1, 100000);
  md.numHeads = r.integer(model, "num_attention_heads", "model", 1, 100000);
  md.numKvHeads = r.integer(model, "num_key_value_heads", "model", 1, 100000);
  md.headDim = r.integer(model, "head_dim", "model", 1, 100000);
  md.vocabSize = r.integer(model, "vocab_size", "model", 1, kMaxSize);
  md.maxPositionEmbeddings =
      r.integer(model, "max_position_embeddings", "model", 1, kMaxSize);
  md.numParameters = r.integer(model, "num_parameters", "model", 0);
  md.rmsNormEps = r.number(model, "rms_norm_eps", "model");
  md.ropeTheta = r.number(model, "rope_theta", "model");
  md.tieWordEmbeddings = r.boolean(model, "tie_word_embeddings", "model");

  const json &target = r.get(doc, "target", "");
  m.target.kind = r.str(target, "kind", "target");
  m.target.section = r.str(target, "section", "target");
  if (m.target.kind == "cpu") {
    m.target.triple = r.str(target, "triple", "target");
    m.target.cpu = r.str(target, "cpu", "target");
    m.target.features = r.str(target, "features", "target");
  } else if (m.target.kind == "cuda") {
    m.target.arch = r.str(target, "arch", "target");
    const json &modules = r.array(target, "modules", "target");
    for (size_t i = 0; i < modules.size(); ++i) {
      std::string path = "target.modules[" + std::to_string(i) + "]";
      CudaModuleDesc mod;
      mod.name = r.str(modules[i], "name", path);
      mod.ptxSection = r.str(modules[i], "ptx", path);
      if (modules[i].contains("cubin"))
        mod.cubinSection = r.str(modules[i], "cubin", path);
      m.target.modules.push_back(std::move(mod));
    }
    const json &plans = r.array(doc, "launch_plans", "");
    for (size_t i = 0; i < plans.size(); ++i) {
      std::string path = "launch_plans[" + std::to_string(i) + "]";
      std::string entry = r.str(plans[i], "entry", path);
      std::string text = plans[i].dump();
      LaunchPlan::fromJson(text, name + ": manifest field '" + path + "'");
      m.launchPlans[entry] = std::move(text);
    }
  } else {
    r.fail("target.kind",
           "expected 'cpu' or 'cuda', got '" + m.target.kind + "'");
  }

  const json &entries = r.array(doc, "entries", "");
  for (size_t i = 0; i < entries.size(); ++i) {
    std::string path = "entries[" + std::to_string(i) + "]";
    EntryDesc e;
    e.name = r.str(entries[i], "name", path);
    e.symbol = r.str(entries[i], "symbol", path);
    const json &args = r.array(entries[i], "args", path);
    for (size_t a = 0; a < args.size(); ++a)
      e.args.push_back(
          parseValue(r, args[a], path + ".args[" + std::to_string(a) + "]"));
    e.result =
        parseValue(r, r.get(entries[i], "result", path), path + ".result");
    if (m.findEntry(e.name))
      r.fail(path + ".name", "duplicate entry '" + e.name + "'");
    m.entries.push_back(std::move(e));
  }

  const json &weights = r.array(doc, "weights", "");
  std::set<std::string> weightNames;
  for (size_t i = 0; i < weights.size(); ++i) {
    std::string path = "weights[" + std::to_string(i) + "]";
    WeightDesc w;
    w.name = r.str(weights[i], "name", path);
    w.dtype = r.dtype(weights[i], "dtype", path);
    for (const Dim &d : r.shape(weights[i], "shape", path)) {
      if (d.isDynamic())
        r.fail(path + ".shape", "a weight cannot have a dynamic size");
      w.shape.push_back(d.value);
    }
    if (!weightNames.insert(w.name).second)
      r.fail(path + ".name", "duplicate weight '" + w.name + "'");
    m.weights.push_back(std::move(w));
  }

  const json &kv = r.get(doc, "kv_cache", "");
  m.kvLayers = r.integer(kv, "layers", "kv_cache", 1, 100000);
  m.kvDtype = r.dtype(kv, "dtype", "kv_cache");
  m.kvShape = r.shape(kv, "shape", "kv_cache");
  if (m.kvShape.size() != 4 || m.kvShape[0].symbol != "batch" ||
      m.kvShape[1].symbol != "context" || m.kvShape[2].isDynamic() ||
      m.kvShape[3].isDynamic())
    r.fail("kv_cache.shape", "expected [batch, context, kv_heads, head_dim]");
  return m;
}

const std::string &Artifact::section(const std::string &sectionName) const {
  auto it = sections_.find(sectionName);
  if (it == sections_.end())
    throw Error(name_ + ": missing section '" + sectionName + "'");
  return it->second;
}

Artifact Artifact::parse(const uint8_t *data, size_t size,
                         const std::string &name) {
  using namespace kiln::artifact;
  Artifact a;
  a.name_ = name;
  if (size < sizeof(FileHeader))
    throw Error(name + ": truncated: " + std::to_string(size) +
                " bytes is smaller than the artifact header");
  FileHeader header;
  std::memcpy(&header, data, sizeof(header));
  if (std::memcmp(header.magic, kMagic, sizeof(kMagic)) != 0)
    throw Error(name + ": not a Kiln artifact (bad magic)");
  if (header.formatVersion != kFormatVersion)
    throw Error(name + ": artifact format version " +
                std::to_string(header.formatVersion) +
                " is not supported by this runtime (expects " +
                std::to_string(kFormatVersion) +
                "): recompile the model with this Kiln");
  if (header.fileSize != size)
    throw Error(name + ": " +
                (size < header.fileSize ? std::string("truncated")
                                        : std::string("trailing bytes")) +
                ": the header says " + std::to_string(header.fileSize) +
                " bytes, the file has " + std::to_string(size));
  if (header.numSections == 0 || header.numSections > kMaxSections)
    throw Error(name + ": bad section count " +
                std::to_string(header.numSections));
  uint64_t tableBytes = uint64_t(header.numSections) * sizeof(SectionEntry);
  if (tableBytes > size - sizeof(FileHeader))
    throw Error(name + ": truncated section table");
  const uint8_t *table = data + sizeof(FileHeader);
  if (fnv1a(table, tableBytes) != header.tableChecksum)
    throw Error(name + ": corrupted: section table checksum mismatch");
  for (uint32_t i = 0; i < header.numSections; ++i) {
    SectionEntry entry;
    std::memcpy(&entry, table + i * sizeof(SectionEntry), sizeof(entry));
    size_t nameLen = strnlen(entry.name, kSectionNameSize);
    if (nameLen == 0 || nameLen == kSectionNameSize)
      throw Error(name + ": section " + std::to_string(i) + ": bad name");
    std::string sectionName(entry.name, nameLen);
    if (entry.offset < sizeof(FileHeader) + tableBytes || entry.offset > size ||
        entry.size > size - entry.offset)
      throw Error(name + ": section '" + sectionName +
                  "' lies outside the file");
    if (fnv1a(data + entry.offset, entry.size) != entry.checksum)
      throw Error(name + ": corrupted: checksum mismatch in section '" +
                  sectionName + "'");
    if (!a.sections_
             .emplace(sectionName,
                      std::string(reinterpret_cast<const char *>(data) +
                                      entry.offset,
                                  entry.size))
             .second)
      throw Error(name + ": duplicate section '" + sectionName + "'");
  }
  a.manifest_ = parseManifest(a.section(kManifestSection), name);
  for (const CudaModuleDesc &mod : a.manifest_.target.modules)
    for (const std::string *sec : {&mod.ptxSection, &mod.cubinSection})
      if (!sec->empty() && !a.hasSection(*sec))
        throw Error(name + ": kernel module '" + mod.name +
                    "' names section '" + *sec + "', which is missing");
  if (!a.hasSection(a.manifest_.target.section))
    throw Error(name + ": manifest field 'target.section': no section '" +
                a.manifest_.target.section + "' in the artifact");
  return a;
}

Artifact Artifact::load(const std::string &path) {
  MappedFile file = MappedFile::open(path);
  return parse(file.data(), file.size(), path);
}
