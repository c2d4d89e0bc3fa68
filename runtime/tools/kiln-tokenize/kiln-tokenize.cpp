//===- kiln-tokenize.cpp - Kiln's tokenizer on the command line -----------===//
//
//   kiln-tokenize MODEL_DIR|tokenizer.json [--add-special] [TEXT...]
//   kiln-tokenize MODEL_DIR|tokenizer.json --decode 1,2,3
//
// Prints the ids of each TEXT (or of each line of stdin) on one line,
// space-separated, with the runtime's tokenizer (the one kiln-run uses);
// --decode prints the text of comma-separated ids instead. For checking a
// prompt, and for comparing with Hugging Face's tokenizers
// (scripts/device/validate.sh).
//
//===----------------------------------------------------------------------===//
#include "kiln/runtime/Error.h"
#include "kiln/runtime/Tokenizer.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <sys/stat.h>
#include <vector>

using namespace kiln::rt;

namespace {
const char *kUsage =
    "usage: kiln-tokenize MODEL_DIR|tokenizer.json [--add-special] [TEXT...]\n"
    "       kiln-tokenize MODEL_DIR|tokenizer.json --decode IDS\n"
    "  Prints the ids of each TEXT (or of each line of stdin) on one line;\n"
    "  --add-special adds the post-processor's tokens (e.g. BOS);\n"
    "  --decode prints the text of comma-separated IDS.\n";

void printIds(const std::vector<int32_t> &ids) {
  for (size_t i = 0; i < ids.size(); ++i)
    std::printf("%s%d", i ? " " : "", ids[i]);
  std::printf("\n");
}

int run(int argc, char **argv) {
  std::string source;
  bool addSpecial = false, decode = false;
  std::vector<std::string> texts;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--add-special") {
      addSpecial = true;
    } else if (arg == "--decode") {
      decode = true;
    } else if (arg.rfind("--", 0) == 0) {
      throw Error("unknown flag '" + arg + "'\n" + kUsage);
    } else if (source.empty()) {
      source = arg;
    } else {
      texts.push_back(arg);
    }
  }
  if (source.empty())
    throw Error(std::string("missing MODEL_DIR or tokenizer.json\n") + kUsage);
  struct stat st;
  if (stat(source.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    source += "/tokenizer.json";
  Tokenizer tokenizer = Tokenizer::load(source);
  if (decode) {
    if (texts.size() != 1)
      throw Error("--decode takes one comma-separated list of ids");
    std::vector<int32_t> ids;
    size_t pos = 0;
    const std::string &list = texts[0];
    while (pos <= list.size()) {
      size_t end = list.find(',', pos);
      if (end == std::string::npos)
        end = list.size();
      std::string item = list.substr(pos, end - pos);
      char *stop = nullptr;
      long v = std::strtol(item.c_str(), &stop, 10);
      if (item.empty() || *stop != '\0' || v < 0 || v > INT32_MAX)
        throw Error("--decode: bad id '" + item + "'");
      ids.push_back(static_cast<int32_t>(v));
      pos = end + 1;
    }
    std::string text = tokenizer.decode(ids, /*skipSpecial=*/false);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::printf("\n");
    return 0;
  }
  if (texts.empty()) {
    std::string line;
    while (std::getline(std::cin, line))
      printIds(tokenizer.encode(line, addSpecial));
    return 0;
  }
  for (const std::string &text : texts)
    printIds(tokenizer.encode(text, addSpecial));
  return 0;
}
} // namespace

int main(int argc, char **argv) {
  try {
    return run(argc, argv);
  } catch (const Error &e) {
    std::fprintf(stderr, "kiln-tokenize: error: %s\n", e.what());
    return 1;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "kiln-tokenize: internal error: %s\n", e.what());
    return 2;
  }
}
