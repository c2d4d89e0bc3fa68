//===- GenerationConfig.cpp - a model's generation defaults ---------------===//
#include "kiln/runtime/GenerationConfig.h"

#include "kiln/runtime/Error.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

using namespace kiln::rt;
using json = nlohmann::json;

namespace {
/// The parsed file, or null if it does not exist.
json readOptionalJson(const std::string &path) {
  std::ifstream in(path);
  if (!in)
    return json();
  std::stringstream text;
  text << in.rdbuf();
  json doc = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object())
    throw Error(path + ": not a JSON object");
  return doc;
}

std::vector<int32_t> eosIds(const json &doc, const std::string &path) {
  auto it = doc.find("eos_token_id");
  if (it == doc.end() || it->is_null())
    return {};
  auto bad = [&] {
    return Error(path +
                 ": field 'eos_token_id': expected a token id or a list of "
                 "them");
  };
  std::vector<int32_t> ids;
  auto add = [&](const json &v) {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 ||
        v.get<int64_t>() > INT32_MAX)
      throw bad();
    ids.push_back(static_cast<int32_t>(v.get<int64_t>()));
  };
  if (it->is_array())
    for (const json &v : *it)
      add(v);
  else
    add(*it);
  return ids;
}
} // namespace

SamplingOptions GenerationDefaults::apply(SamplingOptions options) const {
  if (doSample && !*doSample) {
    options.greedy = true;
    return options;
  }
  options.greedy = false;
  if (temperature)
    options.temperature = *temperature;
  if (topK)
    options.topK = *topK;
  if (topP)
    options.topP = *topP;
  return options;
}

GenerationDefaults
kiln::rt::loadGenerationDefaults(const std::string &modelDir) {
  GenerationDefaults d;
  std::string genPath = modelDir + "/generation_config.json";
  json gen = readOptionalJson(genPath);
  if (gen.is_object()) {
    d.eosTokenIds = eosIds(gen, genPath);
    auto field = [&](const char *name) -> const json * {
      auto it = gen.find(name);
      return it == gen.end() || it->is_null() ? nullptr : &*it;
    };
    auto fail = [&](const char *name, const char *what) {
      return Error(genPath + ": field '" + name + "': expected " + what);
    };
    if (const json *v = field("do_sample")) {
      if (!v->is_boolean())
        throw fail("do_sample", "true or false");
      d.doSample = v->get<bool>();
    }
    if (const json *v = field("temperature")) {
      if (!v->is_number() || !(v->get<double>() > 0))
        throw fail("temperature", "a positive number");
      d.temperature = v->get<float>();
    }
    if (const json *v = field("top_k")) {
      if (!v->is_number_integer() || v->get<int64_t>() < 0)
        throw fail("top_k", "a non-negative integer");
      d.topK = v->get<int64_t>();
    }
    if (const json *v = field("top_p")) {
      if (!v->is_number() || !(v->get<double>() > 0) || v->get<double>() > 1)
        throw fail("top_p", "a number in (0, 1]");
      d.topP = v->get<float>();
    }
  }
  if (d.eosTokenIds.empty()) {
    std::string configPath = modelDir + "/config.json";
    json config = readOptionalJson(configPath);
    if (config.is_object())
      d.eosTokenIds = eosIds(config, configPath);
  }
  return d;
}
