# Lit configuration for Kiln's FileCheck tests.
import os

import lit.formats
from lit.llvm import llvm_config

config.name = "Kiln"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "unittests"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.kiln_obj_root, "test")

llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.kiln_tools_dir, append_path=True)
# ASan builds: report errors, not the leaks of a process that exits.
llvm_config.with_system_environment(["ASAN_OPTIONS", "UBSAN_OPTIONS"])

tool_dirs = [config.kiln_tools_dir, config.llvm_tools_dir]
llvm_config.add_tool_substitutions(
    ["kiln-opt", "kiln-compile", "kiln-run", "kiln-tokenize", "mlir-translate"],
    tool_dirs)

# Debian's interpreter (it sees python3-numpy; a python3 earlier in PATH may
# not), and the repository's python/ helpers.
config.substitutions.append(
    ("%python", "/usr/bin/python3" if os.path.exists("/usr/bin/python3")
     else "python3"))
config.substitutions.append(
    ("%kiln_python", os.path.join(config.kiln_src_root, "python")))

# The CUDA toolkit's ptxas (no GPU needed): GPU tests assemble their PTX.
ptxas = "/usr/local/cuda/bin/ptxas"
if os.path.exists(ptxas):
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", ptxas))

# The toolkit's stub libcuda: every driver entry point, no driver behind it.
cuda_stub = "/usr/local/cuda/lib64/stubs/libcuda.so"
if os.path.exists(cuda_stub):
    config.available_features.add("cuda-stub")
    config.substitutions.append(("%cuda_stub", cuda_stub))

# The runtime's fake CUDA driver (runtime/unittests/fake-cuda).
config.substitutions.append(
    ("%fake_cuda", os.path.join(config.kiln_obj_root, "lib",
                                "libkiln-fake-cuda.so")))
