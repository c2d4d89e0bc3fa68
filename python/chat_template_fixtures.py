#!/usr/bin/python3
"""Builds the chat template test fixtures under runtime/unittests/data.

Renders the chat templates of common models (written from their
tokenizer_config.json files) and synthetic templates that exercise each
supported Jinja2 feature with the real jinja2, in the environment
transformers' apply_chat_template uses:

  * ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    with the loop-controls extension and a `generation` block tag;
  * the global raise_exception(message);
  * the filter tojson(x, ensure_ascii=False, indent=None, separators=None,
    sort_keys=False) = json.dumps(...), which replaces Jinja's own;
  * the variables messages, add_generation_prompt, bos_token, eos_token.

It writes runtime/unittests/data/chat_templates/templates.json:

  {"templates": [{"name", "template", "bos_token", "eos_token",
                  "cases": [{"conversation", "messages",
                             "add_generation_prompt",
                             "expected" | "error"}]}],
   "parse_errors": [{"name", "template", "error"}]}

"error" is a substring of kiln's message: jinja2's own message for
raise_exception, a hand-written one for other runtime errors (checked here
to make jinja2 fail too). Run with /usr/bin/python3 from anywhere:

  /usr/bin/python3 python/chat_template_fixtures.py
"""

import json
import os

import jinja2
import jinja2.ext
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                       "runtime", "unittests", "data", "chat_templates")


class RaisedByTemplate(jinja2.exceptions.TemplateError):
    """What raise_exception() raises, told apart from jinja2's own errors."""


def raise_exception(message):
    raise RaisedByTemplate(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None,
           sort_keys=False):
    # transformers' definition: plain json.dumps, no HTML escaping.
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent,
                      separators=separators, sort_keys=sort_keys)


class GenerationTag(jinja2.ext.Extension):
    """transformers' {% generation %} tag outside assistant masking: it
    renders its body."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",),
                                       drop_needle=True)
        call = self.call_method("_render_body")
        return nodes.CallBlock(call, [], [], body).set_lineno(lineno)

    def _render_body(self, caller):
        return caller()


def make_environment():
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True,
        extensions=[jinja2.ext.loopcontrols, GenerationTag])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    return env


def msg(role, content):
    return {"role": role, "content": content}


CONVERSATIONS = {
    "single": [msg("user", "Hello!")],
    "system": [msg("system", "You are a terse assistant."),
               msg("user", "What is 2+2?")],
    "multi": [msg("user", "Hi there."), msg("assistant", "Hello! How can I help?"),
              msg("user", "Tell me a joke.")],
    "system_multi": [msg("system", "Be brief."), msg("user", "Name a color."),
                     msg("assistant", "Blue."), msg("user", "Another one?")],
    "unicode": [msg("user", "Grüße aus Köln! 你好 🙂 — ça va? 👋🏽"),
                msg("assistant", "¡Hola! Привет, мир. 日本語も大丈夫。"),
                msg("user", "emoji only: 🚀🔥✨")],
    "tricky": [msg("user", "Use {{ braces }} and {% tags %} and {# comments #}, "
                           "'single' and \"double\" quotes, a \\ backslash,\n"
                           "a newline, a\ttab and </s> <|im_end|> tokens."),
               msg("assistant", "  padded answer with trailing spaces  \n\n"),
               msg("user", "\n\nleading newlines")],
    "think": [msg("user", "What is 6*7?"),
              msg("assistant", "<think>\nSix sevens.\n</think>\n\n42."),
              msg("user", "And 6*8?")],
    "tool": [msg("system", "You can call tools."),
             msg("user", "Weather in Paris?"),
             msg("assistant", "Let me check."),
             msg("tool", "{\"temp\": 21, \"unit\": \"C\"}"),
             msg("tool", "<tool_response>second</tool_response>"),
             msg("user", "Thanks!")],
    "empty": [],
    "user_user": [msg("user", "one"), msg("user", "two")],
    "assistant_first": [msg("assistant", "I start."), msg("user", "ok")],
}

STANDARD = ["single", "system", "multi", "system_multi", "unicode", "tricky"]

# The chat templates of common models, as in their tokenizer_config.json.
MODEL_TEMPLATES = []


def model(name, template, bos="", eos="", conversations=None, errors=None):
    MODEL_TEMPLATES.append({
        "name": name, "template": template, "bos_token": bos,
        "eos_token": eos, "conversations": conversations or STANDARD,
        "errors": errors or {}})


model("llama2_chat",
      "{% if messages[0]['role'] == 'system' %}{% set loop_messages = "
      "messages[1:] %}{% set system_message = messages[0]['content'] %}"
      "{% else %}{% set loop_messages = messages %}{% set system_message = "
      "false %}{% endif %}{% for message in loop_messages %}{% if "
      "(message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ "
      "raise_exception('Conversation roles must alternate user/assistant/"
      "user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and "
      "system_message != false %}{% set content = '<<SYS>>\\n' + "
      "system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else "
      "%}{% set content = message['content'] %}{% endif %}{% if "
      "message['role'] == 'user' %}{{ bos_token + '[INST] ' + "
      "content.strip() + ' [/INST]' }}{% elif message['role'] == "
      "'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}"
      "{% endif %}{% endfor %}",
      bos="<s>", eos="</s>",
      conversations=STANDARD + ["user_user", "assistant_first"])

model("llama3_instruct",
      "{% set loop_messages = messages %}{% for message in loop_messages %}"
      "{% set content = '<|start_header_id|>' + message['role'] + "
      "'<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}"
      "{% if loop.index0 == 0 %}{% set content = bos_token + content %}"
      "{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
      "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}",
      bos="<|begin_of_text|>", eos="<|eot_id|>",
      conversations=STANDARD + ["empty"])

LLAMA31 = """{{- bos_token }}
{%- if custom_tools is defined %}
    {%- set tools = custom_tools %}
{%- endif %}
{%- if not tools_in_user_message is defined %}
    {%- set tools_in_user_message = true %}
{%- endif %}
{%- if not date_string is defined %}
    {%- set date_string = "26 Jul 2024" %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}

{#- This block extracts the system message, so we can slot it into the right place. #}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}

{#- System message + builtin tools #}
{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}
{%- if builtin_tools is defined or tools is not none %}
    {{- "Environment: ipython\\n" }}
{%- endif %}
{%- if builtin_tools is defined %}
    {{- "Tools: " + builtin_tools | reject('equalto', 'code_interpreter') | join(", ") + "\\n\\n"}}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\\n" }}
{{- "Today Date: " + date_string + "\\n\\n" }}
{%- if tools is not none and not tools_in_user_message %}
    {{- "You have access to the following functions. To call a function, please respond with JSON for a function call." }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\\n\\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\\n\\n" }}
    {%- endfor %}
{%- endif %}
{{- system_message }}
{{- "<|eot_id|>" }}

{#- Custom tools are passed in a user message with some extra guidance #}
{%- if tools_in_user_message and not tools is none %}
    {#- Extract the first user message so we can plug it in here #}
    {%- if messages | length != 0 %}
        {%- set first_user_message = messages[0]['content']|trim %}
        {%- set messages = messages[1:] %}
    {%- else %}
        {{- raise_exception("Cannot put tools in the first user message when there's no first user message!") }}
{%- endif %}
    {{- '<|start_header_id|>user<|end_header_id|>\\n\\n' -}}
    {{- "Given the following functions, please respond with a JSON for a function call " }}
    {{- "with its proper arguments that best answers the given prompt.\\n\\n" }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\\n\\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\\n\\n" }}
    {%- endfor %}
    {{- first_user_message + "<|eot_id|>"}}
{%- endif %}

{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- elif 'tool_calls' in message %}
        {%- if not message.tool_calls|length == 1 %}
            {{- raise_exception("This model only supports single tool-calls at once!") }}
        {%- endif %}
        {%- set tool_call = message.tool_calls[0].function %}
        {%- if builtin_tools is defined and tool_call.name in builtin_tools %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}
            {{- "<|python_tag|>" + tool_call.name + ".call(" }}
            {%- for arg_name, arg_val in tool_call.arguments | items %}
                {{- arg_name + '="' + arg_val + '"' }}
                {%- if not loop.last %}
                    {{- ", " }}
                {%- endif %}
                {%- endfor %}
            {{- ")" }}
        {%- else  %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}
            {{- '{"name": "' + tool_call.name + '", ' }}
            {{- '"parameters": ' }}
            {{- tool_call.arguments | tojson }}
            {{- "}" }}
        {%- endif %}
        {%- if builtin_tools is defined %}
            {#- This means we're in ipython mode #}
            {{- "<|eom_id|>" }}
        {%- else %}
            {{- "<|eot_id|>" }}
        {%- endif %}
    {%- elif message.role == "tool" or message.role == "ipython" %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\\n\\n" }}
        {%- if message.content is mapping or message.content is iterable %}
            {{- message.content | tojson }}
        {%- else %}
            {{- message.content }}
        {%- endif %}
        {{- "<|eot_id|>" }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
{%- endif %}
"""

TOOLS = ("[{'type': 'function', 'function': {'name': 'get_weather', "
         "'description': 'Weather for a city, \"now\" & <today>.', "
         "'parameters': {'type': 'object', 'properties': {'city': "
         "{'type': 'string', 'description': 'City name, e.g. Zürich'}, "
         "'days': {'type': 'integer', 'minimum': 1, 'default': none}}, "
         "'required': ['city']}}}, {'type': 'function', 'function': "
         "{'name': 'noop', 'parameters': {}}}]")

model("llama3_1_instruct", LLAMA31, bos="<|begin_of_text|>",
      eos="<|eot_id|>", conversations=STANDARD + ["tool", "empty"],
      errors={"empty": "list object has no element 0"})
model("llama3_1_instruct_tools",
      "{%- set tools = " + TOOLS + " %}\n" + LLAMA31,
      bos="<|begin_of_text|>", eos="<|eot_id|>",
      conversations=["single", "system_multi", "tool", "empty"],
      errors={"empty": "list object has no element 0"})

model("mistral_instruct",
      "{{ bos_token }}{% for message in messages %}{% if (message['role'] == "
      "'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation "
      "roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
      "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + "
      "' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ "
      "message['content'] + eos_token + ' ' }}{% else %}{{ raise_exception("
      "'Only user and assistant roles are supported!') }}{% endif %}"
      "{% endfor %}",
      bos="<s>", eos="</s>",
      conversations=STANDARD + ["user_user", "assistant_first", "empty"])

CHATML = ("{% for message in messages %}{% if loop.first and messages[0]['role'] "
          "!= 'system' %}{{ '<|im_start|>system\nYou are a helpful assistant."
          "<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + "
          "'\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if "
          "add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
model("chatml_qwen2", CHATML, eos="<|im_end|>",
      conversations=STANDARD + ["empty", "tool"])

QWEN25 = """{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}
    {%- for tool in tools %}
        {{- "\\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
    {%- else %}
        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\\n<tool_call>\\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\\n<tool_response>\\n' }}
        {{- message.content }}
        {{- '\\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
"""
model("qwen2_5_instruct", QWEN25, eos="<|im_end|>",
      conversations=STANDARD + ["tool", "empty"],
      errors={"empty": "list object has no element 0"})
model("qwen2_5_instruct_tools", "{%- set tools = " + TOOLS + " %}\n" + QWEN25,
      eos="<|im_end|>", conversations=["single", "system_multi", "tool"])

QWEN3 = """{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0].role == 'system' %}
        {{- messages[0].content + '\\n\\n' }}
    {%- endif %}
    {{- "# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}
    {%- for tool in tools %}
        {{- "\\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}
{%- else %}
    {%- if messages[0].role == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}
{%- for message in messages[::-1] %}
    {%- set index = (messages|length - 1) - loop.index0 %}
    {%- if ns.multi_step_tool and message.role == "user" and message.content is string and not(message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>')) %}
        {%- set ns.multi_step_tool = false %}
        {%- set ns.last_query_index = index %}
    {%- endif %}
{%- endfor %}
{%- for message in messages %}
    {%- if message.content is string %}
        {%- set content = message.content %}
    {%- else %}
        {%- set content = '' %}
    {%- endif %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\\n' + content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {%- set reasoning_content = '' %}
        {%- if message.reasoning_content is string %}
            {%- set reasoning_content = message.reasoning_content %}
        {%- else %}
            {%- if '</think>' in content %}
                {%- set reasoning_content = content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}
                {%- set content = content.split('</think>')[-1].lstrip('\\n') %}
            {%- endif %}
        {%- endif %}
        {%- if loop.index0 > ns.last_query_index %}
            {%- if loop.last or (not loop.last and reasoning_content) %}
                {{- '<|im_start|>' + message.role + '\\n<think>\\n' + reasoning_content.strip('\\n') + '\\n</think>\\n\\n' + content.lstrip('\\n') }}
            {%- else %}
                {{- '<|im_start|>' + message.role + '\\n' + content }}
            {%- endif %}
        {%- else %}
            {{- '<|im_start|>' + message.role + '\\n' + content }}
        {%- endif %}
        {%- if message.tool_calls %}
            {%- for tool_call in message.tool_calls %}
                {%- if (loop.first and content) or (not loop.first) %}
                    {{- '\\n' }}
                {%- endif %}
                {%- if tool_call.function %}
                    {%- set tool_call = tool_call.function %}
                {%- endif %}
                {{- '<tool_call>\\n{"name": "' }}
                {{- tool_call.name }}
                {{- '", "arguments": ' }}
                {%- if tool_call.arguments is string %}
                    {{- tool_call.arguments }}
                {%- else %}
                    {{- tool_call.arguments | tojson }}
                {%- endif %}
                {{- '}\\n</tool_call>' }}
            {%- endfor %}
        {%- endif %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "tool" %}
        {%- if loop.first or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\\n<tool_response>\\n' }}
        {{- content }}
        {{- '\\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\\n\\n</think>\\n\\n' }}
    {%- endif %}
{%- endif %}"""
QWEN3_CONVERSATIONS = STANDARD + ["think", "tool", "empty"]
model("qwen3", QWEN3, eos="<|im_end|>", conversations=QWEN3_CONVERSATIONS,
      errors={"empty": "list object has no element 0"})
model("qwen3_no_thinking", "{%- set enable_thinking = false %}\n" + QWEN3,
      eos="<|im_end|>", conversations=["single", "think"])
model("qwen3_tools", "{%- set tools = " + TOOLS + " %}\n" + QWEN3,
      eos="<|im_end|>", conversations=["single", "system", "think", "tool"])

model("zephyr",
      "{% for message in messages %}\n{% if message['role'] == 'user' %}\n"
      "{{ '<|user|>\n' + message['content'] + eos_token }}\n{% elif "
      "message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] "
      "+ eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ "
      "'<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n"
      "{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n"
      "{% endif %}\n{% endfor %}",
      bos="<s>", eos="</s>", conversations=STANDARD + ["empty"])

model("gemma",
      "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ "
      "raise_exception('System role not supported') }}{% endif %}{% for "
      "message in messages %}{% if (message['role'] == 'user') != "
      "(loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must "
      "alternate user/assistant/user/assistant/...') }}{% endif %}{% if "
      "(message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}"
      "{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role "
      "+ '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}"
      "{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}",
      bos="<bos>", eos="<eos>")

model("phi3",
      "{% for message in messages %}{% if message['role'] == 'system' %}"
      "{{'<|system|>\n' + message['content'] + '<|end|>\n'}}{% elif "
      "message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + "
      "'<|end|>\n'}}{% elif message['role'] == 'assistant' %}{{'<|assistant|>"
      "\n' + message['content'] + '<|end|>\n'}}{% endif %}{% endfor %}{% if "
      "add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token "
      "}}{% endif %}",
      bos="<s>", eos="<|endoftext|>")

# Synthetic templates, one feature area each.
SYNTHETIC = {}

SYNTHETIC["loops"] = """\
{% for m in messages %}
{{ loop.index }}/{{ loop.length }} i0={{ loop.index0 }} rev={{ loop.revindex }},{{ loop.revindex0 }} first={{ loop.first }} last={{ loop.last }} prev={{ loop.previtem.role if not loop.first else '-' }} next={{ loop.nextitem.role if not loop.last else '-' }} {{ loop.cycle('odd', 'even') }}: {{ m.role }}
{% else %}
no messages
{% endfor %}
{% for k, v in {'a': 1, 'b': [2, 3]}.items() %}{{ k }}={{ v }};{% endfor %}

{% for k, v in {'x': 'y'}|items %}{{ k ~ v }}{% endfor %}

{% for i in range(3) %}{{ i }}{% endfor %} {% for i in range(2, 5) %}{{ i }}{% endfor %} {% for i in range(10, 0, -3) %}{{ i }},{% endfor %} {{ range(0)|length }}|{{ range(5, 1)|list }}
{% for c in 'héllo' %}[{{ c }}]{% endfor %}

{% for x in [1, 2, 3, 4, 5, 6] if x is odd %}{{ x }}{{ ',' if not loop.last }}{% endfor %}

{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x > 4 %}{% break %}{% endif %}{{ x }}{% endfor %}

{% for row in [[1, 2], [3, 4]] %}{% for cell in row %}{{ loop.index }}:{{ cell }} {% endfor %}|{{ loop.index }}{% endfor %}

{% set x = 'outer' %}{% for i in [1, 2] %}{{ x }}>{% set x = 'inner' ~ i %}{{ x }} {% endfor %}{{ x }}
{% for i in [1, 2, 3] %}{% if i > 1 %}[{{ y }}]{% endif %}{% set y = i %}{% endfor %}[{{ y }}]
{% for a, b in [[1, 2], ['x', 'y'], 'pq'] %}{{ a }}{{ b }} {% endfor %}

{% for x in [] %}never{% else %}empty-else{% endfor %}

{# Jinja runs `else` unless an iteration reached the end of the body. #}
{% for i in [1] %}{% continue %}{% else %}[{{ i is defined }}]{% endfor %}|{% for i in [1, 2] %}{% if i == 1 %}{% break %}{% endif %}{% else %}else-after-break{% endfor %}|{% for i in [1, 2] %}{% if i == 2 %}{% break %}{% endif %}{% else %}never{% endfor %}|{% for i in [1] %}{% else %}{% set leaked = 1 %}{% endfor %}{% for i in [] %}{% else %}{% set leaked = 1 %}{% endfor %}{{ leaked is defined }}

{% for d in {'k1': 1, 'k2': 2} %}{{ d }}{% endfor %}

{% set ns = namespace(count=0, names=[]) %}{% for m in messages %}{% set ns.count = ns.count + 1 %}{% set ns.names = ns.names + [m.role] %}{% endfor %}{{ ns.count }} {{ ns.names|join(',') }}
{% for m in messages %}{% for c in m.content[:3] %}{{ c }}{% endfor %}{% if not loop.last %},{% endif %}{% endfor %}

{% set captured %}{% for m in messages %}<{{ m.role }}>{% endfor %}{% endset %}{{ captured|length }} {{ captured }}
{% generation %}{% set inner = 1 %}gen-{{ messages|length }}{% endgeneration %}{{ inner is defined }}
"""

SYNTHETIC["expressions"] = """\
{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 7 / 2 }} {{ 6 / 3 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ -2 ** 2 }} {{ 2 ** 3 ** 2 }}
{{ 0.1 + 0.2 }} {{ 1.5 * 2 }} {{ 1e3 }} {{ 2.5e-7 }} {{ 1e16 }} {{ 1e15 }} {{ 123456789.125 }} {{ 7.5 % 2 }} {{ -7.5 // 2 }} {{ -7.5 % 2 }} {{ 10 / 4 }} {{ 1_000 + 1 }} {{ 1 / 3 }} {{ 2 / 3 * 3 }} {{ -0.0 }} {{ 0.0001 }} {{ 0.00001 }} {{ 1e22 }} {{ 12345678901234567890.0 }}
{{ 'a' ~ 1 ~ none ~ true ~ 1.0 ~ [1] }} {{ 'ab' * 3 }} {{ 3 * 'ab' }} [{{ -3 * 'a' }}{{ 'a' * 0 }}{{ '' * 5 }}] {{ [1] * 3 }} {{ [1] * -1 }} {{ 'x' * true }} {{ [1, 2] + [3] }} {{ 'x' + 'y' }} {{ 'ab' ~ 'c' + 'd' }} {{ true + true }} {{ true * 1.5 }} {{ -true }} {{ +3 }}
{{ 1 < 2 }} {{ 2 <= 1 }} {{ 'abc' < 'abd' }} {{ 'Z' < 'a' }} {{ [1, 2] < [1, 3] }} {{ [1] < [1, 0] }} {{ 1 == 1.0 }} {{ true == 1 }} {{ 'a' != 'b' }} {{ [1, 2] == [1, 2] }} {{ {'a': 1} == {'a': 1} }} {{ {'a': 1, 'b': 2} == {'b': 2, 'a': 1} }} {{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 == 1 != 2 }} {{ none == none }} {{ none == 0 }} {{ 'a' == ['a'] }}
{{ 'ell' in 'hello' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 1 in {'k': 1} }} {{ 'z' not in 'abc' }} {{ not 'x' in ['x'] }} {{ '' in 'abc' }} {{ [1] in [[1], 2] }}
{{ 0 or 'fallback' }} {{ 'first' or 'second' }} {{ 1 and 'both' }} {{ 0 and 'never' }} {{ none or [] }} {{ not none }} {{ not 0 and not '' }} {{ [] or {} }}
{{ 'yes' if messages else 'no' }} [{{ 'a' if false }}] {{ 'x' if 0 else 'y' if 1 else 'z' }} {{ ('p' if true else 'q') ~ 'r' }}
{{ "it's" }} {{ 'say "hi"' }} {{ 'tab\\there' }} {{ 'a\\\\b' }} {{ 'nl\\nx' }} {{ '\\u00e9\\x41\\101' }} {{ "con" "cat" 'enated' }} {{ 'keep \\q' }} {{ 'multi
line' }} {{ '\\U0001F600' }}
{{ [1, 'two', none, true, 2.5, [3], {'k': 'v'}] }} {{ {'a': 1, 'b': "it's", 'c': 'say "x"'} }} {{ (1, 'x') }} {{ (1,) }} {{ () }} {{ [] }} {{ {} }} {{ ['tab\\t', 'nl\\n', 'bs\\\\', 'q\\'', 'both\\'"'] }} {{ ['é', '\\x00', '\\x7f', '\\u00a0', '\\u200b', '🙂'] }}
{{ messages|length + 1 }} {{ messages[0].role|upper if messages }} {{ (messages|length) * 2 }} {{ -1 + messages|length }}
{{ 'abc'[1] }} {{ 'abc'[-1] }} {{ [1, 2, 3][-2] }} {{ [1, 2, 3].1 }} {{ 'héllo'[1] }} {{ {'a': {'b': [10, 20]}}.a.b[1] }} {{ {'a': 1}['a'] }}
{{ namespace(a=1, b='x') }} {{ {'k': namespace(z=[1])} }}
"""

SYNTHETIC["slicing"] = """\
{% set xs = [0, 1, 2, 3, 4, 5] %}
{{ xs[1:3] }} {{ xs[:2] }} {{ xs[4:] }} {{ xs[-2:] }} {{ xs[::2] }} {{ xs[::-1] }} {{ xs[-1:0:-2] }} {{ xs[10:] }} {{ xs[:-10] }} {{ xs[1:-1] }} {{ xs[5:1:-1] }} {{ xs[-100:100] }} {{ xs[:] }} {{ xs[::-2] }} {{ xs[100::-1] }} {{ xs[:-100:-1] }}
{{ 'héllo wörld 🙂'[::-1] }} {{ 'héllo'[1:3] }} {{ 'héllo'[-2:] }} {{ 'abcdef'[::2] }} [{{ 'abc'[5:] }}] {{ 'abc'[none:2] }} {{ (1, 2, 3)[1:] }}
{% for m in messages[::-1] %}{{ m.role }} {% endfor %}

{% for m in messages[1:] %}{{ m.role }} {% endfor %}

{{ messages[-1].content if messages else '' }}
{{ xs[2:][0] }} {{ xs[1:4][::-1] }} {{ messages[:1]|length }}
"""

SYNTHETIC["filters"] = """\
{% set s = '  Hello, Wörld! ' %}
[{{ s|trim }}] [{{ s|trim(' !H') }}] {{ s|length }} {{ s|count }} [{{ s|upper }}] [{{ s|lower }}] [{{ s|capitalize }}] [{{ 'hello big-world (x)y[z]<w>{v} a_b'|title }}] [{{ 'ÉCOLE élève'|lower }}] [{{ 'ÉCOLE élève'|upper }}] {{ 'x'|upper|lower|capitalize }}
{{ 42|string ~ 'x' }} {{ none|string }} {{ [1, 'a']|string }} {{ 1.50|string }}
{{ '42'|int + 1 }} {{ '4.7'|int }} {{ 'abc'|int }} {{ 'abc'|int(7) }} {{ ' 12 '|int }} {{ 'ff'|int(base=16) }} {{ 3.9|int }} {{ -3.9|int }} {{ true|int }} {{ none|int }} {{ '-0x1A'|int(0, 16) }} {{ '1_000'|int }} {{ '1e3'|int }} {{ '0x1A'|int(0, 0) }} {{ '012'|int(0, 0) }} {{ [1]|int }}
{{ '3.25'|float }} {{ 2|float }} {{ 'x'|float }} {{ 'x'|float(1.5) }} {{ ' -1e-3 '|float }} {{ 'inf'|float }} {{ '-Infinity'|float }} {{ '1_0.5'|float }} {{ none|float }} {{ true|float }}
{{ undefined_thing|default('dflt') }} [{{ ''|default('empty') }}] {{ ''|default('empty', true) }} {{ none|d('n') }} {{ 0|d('z', boolean=true) }} [{{ undefined_thing|default }}] {{ messages|default([])|length }}
{{ [3, 1, 2]|first }} {{ [3, 1, 2]|last }} {{ 'xyz'|first }} {{ 'xyz'|last }} {{ {'a': 1, 'b': 2}|first }} {{ {'a': 1, 'b': 2}|last }} [{{ []|first }}] [{{ ''|last }}]
{{ [1, 2, 3]|join }} {{ [1, 'a', none]|join(', ') }} {{ messages|join('|', attribute='role') }} {{ 'abc'|join('-') }} {{ {'k': 1, 'j': 2}|join(d='+') }} {{ [[1], ['a']]|join(',') }}
{{ 'abc'|list }} {{ {'a': 1, 'b': 2}|list }} {{ [3, 1, 2]|reverse|list }} {{ 'abc'|reverse }} {{ 'héllo 🙂'|reverse }} {{ (1, 2)|list }} {{ [1, 2]|list == [1, 2] }}
{{ 'a-b-c'|replace('-', '+') }} {{ 'a-b-c'|replace('-', '', 1) }} {{ 'aaa'|replace('a', 'bb') }} {{ 1.5|replace('.', ',') }} {{ 'abc'|replace('', '.') }} {{ 'ü-ü'|replace('ü', 'ue') }}
{{ {'b': 1, 'a': [1, 2]}|items|list }} {% for k, v in {'z': 1}|items %}{{ k }}{{ v }}{% endfor %} {{ nothing|items|list }}
{{ messages|length }} {{ messages|count }} {{ {'a': 1}|length }} {{ 'héllo'|length }} {{ nothing|length }}
{% for m in messages %}[{{ m.content|trim|lower|replace(' ', '_') }}]{% endfor %}

"""

SYNTHETIC["tests"] = """\
{% set ns = namespace() %}
{% for v in [none, true, false, 0, 1, 2.5, '', 'str', [], [1], {}, {'k': 1}, (1, 2), messages, ns, range] %}
{{ loop.index0 }}: {{ v is defined }} {{ v is undefined }} {{ v is none }} {{ v is string }} {{ v is mapping }} {{ v is iterable }} {{ v is sequence }} {{ v is number }} {{ v is integer }} {{ v is float }} {{ v is boolean }} {{ v is true }} {{ v is false }} {{ v is callable }}
{% endfor %}
undefined: {{ nothing is defined }} {{ nothing is undefined }} {{ nothing is none }} {{ nothing is string }} {{ nothing is mapping }} {{ nothing is iterable }} {{ nothing is sequence }} {{ nothing is number }}
{{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(4) }} {{ 1 is not none }} {{ 'a' is not string }} {{ 2 is eq 2 }} {{ 2 is equalto(3) }} {{ 2 is ne 3 }} {{ 'b' is in 'abc' }} {{ 2 is in [1, 2] }}
{{ (messages[0] is mapping) if messages }} {{ (messages[0].missing is defined) if messages }} {{ (messages[0].role is string) if messages }} {{ messages[5] is defined }} {{ (not messages[0].x is defined) if messages }}
{% if messages and messages[0].tool_calls is defined %}calls{% else %}no-calls{% endif %} {% if nothing is not defined and messages is defined %}ok{% endif %}
"""

SYNTHETIC["tojson"] = """\
{% set data = {'name': 'Grüße 🙂', 'quote': 'say "hi" \\\\ <tag> & \\'x\\' /', 'ctl': 'a\\nb\\tc\\x01\\x1f\\x7f\\r\\b\\f', 'n': none, 't': true, 'f': false, 'i': -42, 'x': 1.5, 'whole': 2.0, 'big': 1e20, 'small': 1e-7, 'list': [1, [2, []], {}], 'nested': {'z': {'y': [none]}}, 'tuple': (1, 'a')} %}
{{ data|tojson }}
{{ data|tojson(indent=2) }}
{{ data|tojson(sort_keys=true) }}
{{ data|tojson(ensure_ascii=true) }}
{{ [data.list, {'b': 1, 'a': 2}]|tojson(indent=0) }}
{{ data.nested|tojson(indent=4, sort_keys=true) }}
{{ 'plain'|tojson }} {{ 3|tojson }} {{ none|tojson }} {{ [1, 'a']|tojson }} {{ ('t', 1)|tojson }} {{ {}|tojson(indent=4) }} {{ []|tojson(indent=4) }} {{ 'inf'|float|tojson }} {{ '-inf'|float|tojson }} {{ 'nan'|float|tojson }} {{ 0.1|tojson }} {{ true|tojson }}
{{ messages|tojson }}
{% for m in messages %}{{ m|tojson }}{{ m.content|tojson }}{% endfor %}

"""

SYNTHETIC["whitespace"] = """\
Text before.
{% if true %}
    trimmed block line
{% endif %}
    {% if true %}
  lstripped indent
    {% endif %}
{# a comment #}
after comment
  {#- dash comment -#}
next
{%- if true -%}
   [dash-both]
{%- endif %}

{{- ' var-left' }}
  {{ 'indented var keeps spaces' }}
   {%+ if true %}plus keeps indent{% endif %}

{% if true +%}
plus end keeps newline
{% endif %}
{{ 'x' -}}
    y
{% for m in messages %}
  - {{ m.role }}
{% endfor %}
	{% if true %}tab-indented{% endif %}

text {% if true %}inline{% endif %} text
{{ 'a' }}   {% if true %}not at line start{% endif %}
{% if true %}{% endif %}    {% if true %}after a tag{% endif %}
{#- comment at line start #}
   {# indented comment #}
{%- for x in [1, 2] -%}
  {{ x }}
{%- endfor -%}
!
{{ '{{' }} raw braces {{ '}}' }} and a lone { brace and % percent }
{{ {'a': {'b': 1}}['a'] }}
{%- set unused = 1 -%}
end
"""

SYNTHETIC["strings"] = """\
{% set s = '  Hello World  ' %}
[{{ s.strip() }}] [{{ s.lstrip() }}] [{{ s.rstrip() }}] [{{ 'xxhixx'.strip('x') }}] [{{ '\\n\\nx\\n'.lstrip('\\n') }}] [{{ 'abcba'.rstrip('ab') }}] [{{ '\\u00a0\\u2003x\\t'.strip() }}] [{{ 'éxé'.strip('é') }}] [{{ 'ab'.strip(none) }}]
{{ 'hello'.startswith('he') }} {{ 'hello'.endswith('lo') }} {{ 'hello'.startswith(('x', 'h')) }} {{ 'hello'.endswith('x') }} {{ 'hi'.startswith('hello') }} {{ ''.endswith('') }}
{{ 'a,b,,c'.split(',') }} {{ '  a  b c '.split() }} {{ 'a b c'.split(' ', 1) }} {{ 'a,b,c'.split(',', maxsplit=1) }} {{ 'x'.split(',') }} {{ ''.split() }} {{ ''.split(',') }} {{ ' a b  c  '.split(none, 1) }} {{ 'a<>b<>c'.split('<>') }} {{ 'a b'.split(maxsplit=0) }}
{{ 'MiXeD'.upper() }} {{ 'MiXeD'.lower() }} {{ 'aXb'.replace('X', '-') }} {{ 'a.b.c'.replace('.', '', 1) }} {{ "they're bill's 3rd".title() }} {{ 'hELLO wORLD'.capitalize() }} {{ 'éa'.upper() }} {{ ', '.join(['a', 'b']) }} {{ '-'.join('xyz') }}
{{ 'straße ﬁx ŉ'.upper() }} {{ 'ßa'.capitalize() }} {{ 'ﬁx ßig'.title() }} {{ 'İ'.lower()|length }} {{ 'straße'|upper }} {{ 'ßx ﬂy'|title }} {{ 'ÀÉÎ'.lower() }} {{ 'ǆemal'.capitalize() }}
{{ '<think>r</think>\\n\\nanswer'.split('</think>')[-1].lstrip('\\n') }} {{ '<think>\\nr\\n</think>x'.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') }}
{% set d = {'a': 1, 'b': none} %}
{{ d.get('a') }} {{ d.get('zz') }} {{ d.get('zz', 'dflt') }} {{ d.items()|list }} {{ d.keys()|list }} {{ d.values()|list }} {{ d['a'] }} {{ d.a }} [{{ d.zz }}] [{{ d['zz'] }}] {{ d.b is none }}
{% for k in d.keys() %}{{ k }}{% endfor %} {% for v in d.values() %}{{ v }}{% endfor %} {% for k, v in d.items() %}{{ k }}:{{ v }}{% endfor %}

{% set ns = namespace(a=1) %}{% set ns.b = ns.a + 1 %}{{ ns.a }} {{ ns.b }} [{{ ns.c }}] {{ ns.b is defined }} {{ ns.c is defined }} {{ ns['a'] }}
{% set ns2 = namespace({'x': 5}, y=6) %}{{ ns2.x + ns2.y }}
{% set a, b = [1, 2] %}{{ b }}{{ a }}
{% for m in messages %}{{ m.content.split()|length }}:{{ m.content.strip().upper()[:5] }} {% endfor %}

"""

SYNTHETIC["undefined"] = """\
[{{ nothing }}] [{{ nothing ~ 'x' }}] {{ nothing|length }} [{{ nothing|upper }}] [{{ nothing|join }}] {{ 'a' in nothing }} {{ nothing == nothing }} {{ nothing is sequence }} [{{ nothing|first }}] {{ nothing|list }} [{{ nothing|trim }}] {{ nothing|default('d') }} {{ not nothing }} [{{ nothing and 1 }}] {{ nothing or 2 }} {{ [nothing] }} [{{ 1 if nothing }}] [{{ none.attr }}] [{{ {'a': 1}.b }}] [{{ [1][5] }}] [{{ 'abc'.nope }}] [{{ messages[99] }}] [{{ nothing|string }}] {{ nothing == none }} {{ nothing != 1 }}
{% for x in nothing %}x{% else %}empty{% endfor %} {% if nothing %}yes{% else %}no{% endif %} {{ nothing is undefined and 'ok' }}
"""

SYNTHETIC["scoping"] = """\
{% set top = 'top' %}{% if true %}{% set in_if = 'if-leaks' %}{% endif %}{{ in_if }}
{% for i in [1] %}{% set in_loop = 'x' %}{% set top = 'changed' %}{{ top }}{% endfor %} [{{ in_loop }}] {{ top }}
{% for i in [1, 2] %}{% for j in [1] %}{{ i }}{{ loop.index }}{% endfor %}{{ loop.index }} {% endfor %}

{% set messages = messages[:1] %}{{ messages|length }}
{% set ns = namespace(found=false) %}{% for m in messages %}{% if m.role == 'user' %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.found }}
"""

SYNTHETIC_CONVERSATIONS = ["system_multi", "unicode", "empty"]

# Runtime errors: the template, a substring of kiln's message (jinja2 must
# fail too).
RUNTIME_ERRORS = [
    ("undefined_attr", "{{ nothing.attr }}", "1:12: 'nothing' is undefined"),
    ("missing_key_attr", "{{ {'a': 1}.b.c }}",
     "'dict object' has no attribute 'b'"),
    ("add_types", "{{ 1 + 'a' }}",
     "1:6: unsupported operand type(s) for +: 'int' and 'str'"),
    ("floor_div_zero", "{{ 1 // 0 }}", "division or modulo by zero"),
    ("div_zero", "{{ 1 / 0 }}", "division by zero"),
    ("tojson_undefined", "{{ [1, nothing]|tojson }}",
     "Object of type Undefined is not JSON serializable"),
    ("order_types", "{{ 'a' < 1 }}",
     "'<' not supported between instances of 'str' and 'int'"),
    ("unpack_many", "{% for a, b in [[1, 2, 3]] %}{% endfor %}",
     "too many values to unpack (expected 2)"),
    ("unpack_few", "{% for a, b in ['x'] %}{% endfor %}",
     "not enough values to unpack (expected 2, got 1)"),
    ("set_attr_non_namespace", "{% set x = 1 %}{% set x.y = 2 %}",
     "cannot assign attribute on non-namespace object"),
    ("range_too_big", "{{ range(100001)|length }}", "range too big"),
    ("slice_step_zero", "{{ 'abc'[::0] }}", "slice step cannot be zero"),
    ("len_of_int", "{{ 5|length }}", "object of type 'int' has no len()"),
    ("iterate_int", "{% for x in 5 %}{% endfor %}",
     "'int' object is not iterable"),
    ("iterate_none", "{% for x in none %}{% else %}{% endfor %}",
     "1:4: 'NoneType' object is not iterable"),
    ("in_int", "{{ 'a' in 1 }}", "argument of type 'int' is not iterable"),
    ("in_string_int", "{{ 1 in 'abc' }}",
     "'in <string>' requires string as left operand, not int"),
    ("undefined_plus", "{{ nothing + 1 }}", "'nothing' is undefined"),
    ("undefined_item", "{{ nothing[0] }}", "'nothing' is undefined"),
    ("undefined_call_method", "{{ nothing.strip() }}",
     "'nothing' is undefined"),
    ("undefined_int", "{{ nothing|int }}", "'nothing' is undefined"),
    ("undefined_compare", "{{ nothing < 1 }}", "'nothing' is undefined"),
    ("missing_attr_chain", "{{ messages[0].content.x.y }}",
     "'str object' has no attribute 'x'"),
    ("raise_in_loop", "{% for m in messages %}{% if loop.last %}"
     "{{ raise_exception('bad role: ' ~ m.role ~ ' at ' ~ loop.index) }}"
     "{% endif %}{% endfor %}", None),
    ("raise_plain", "line one\n  {{ raise_exception(\"it's broken\") }}",
     "2:6: raise_exception: it's broken"),
    ("negate_string", "{{ -'a' }}", "bad operand type for unary -: 'str'"),
    ("split_empty_sep", "{{ 'a'.split('') }}", "empty separator"),
    ("items_of_list", "{{ [1]|items|list }}",
     "Can only get item pairs from a mapping"),
    ("join_non_strings", "{{ ','.join([1]) }}",
     "sequence item 0: expected str instance, int found"),
]

# Templates that kiln rejects when parsing: (name, template, substring of the
# message, whether jinja2 rejects it too).
PARSE_ERRORS = [
    ("macro", "{% macro m() %}x{% endmacro %}",
     "<chat template>:1:4: unsupported statement 'macro'", False),
    ("include", "a\n  {% include 'x.html' %}",
     "<chat template>:2:6: unsupported statement 'include'", None),
    ("extends", "{% extends 'base' %}", "unsupported statement 'extends'",
     None),
    ("call_block", "{% call m() %}x{% endcall %}",
     "unsupported statement 'call'", None),
    ("filter_block", "{% filter upper %}x{% endfilter %}",
     "unsupported statement 'filter'", False),
    ("raw", "{% raw %}{{ not parsed {% endraw %}",
     "1:4: unsupported statement 'raw'", False),
    ("with", "{% with a = 1 %}{{ a }}{% endwith %}",
     "unsupported statement 'with'", False),
    ("recursive_loop", "{% for x in [] recursive %}{% endfor %}",
     "1:16: unsupported 'recursive' loop", False),
    ("unterminated_string", "{{ 'abc }}", "1:4: unterminated string", True),
    ("unterminated_double_string", "{{ \"abc }}", "unterminated string",
     True),
    ("unterminated_var", "hello {{ name ", "1:7: unterminated tag: "
     "expected '}}'", True),
    ("unterminated_block", "{% if x ", "expected '%}'", True),
    ("unterminated_comment", "a {# never closed", "1:3: unterminated "
     "comment", True),
    ("unclosed_if", "{% if true %}x", "1:4: unterminated 'if': expected "
     "'{% endif %}'", True),
    ("unclosed_for", "{% for x in y %}{% if x %}{% endif %}",
     "unterminated 'for': expected '{% endfor %}'", True),
    ("mismatched_end", "{% if true %}x{% endfor %}", "1:18: unexpected "
     "'endfor'", True),
    ("stray_endif", "{% endif %}", "unexpected 'endif'", True),
    ("stray_else", "x{% else %}", "unexpected 'else'", True),
    ("missing_operand", "{{ 1 + }}", "1:8: expected an expression, got "
     "'}}'", True),
    ("for_without_in", "{% for x of y %}{% endfor %}", "expected 'in'",
     True),
    ("assign_in_output", "{{ x = 1 }}", "1:6: expected '}}', got '='",
     True),
    ("break_outside_loop", "{% break %}", "'break' outside of a loop",
     True),
    ("positional_after_keyword", "{{ x|default(boolean=true, 1) }}",
     "positional argument after keyword argument", True),
    ("bad_character", "{{ a $ b }}", "1:6: unexpected character '$'", True),
    ("unbalanced_bracket", "{{ (1 ] }}", "unexpected ']'", True),
    ("set_without_value", "{% set ns.x %}y{% endset %}", "expected '='",
     None),
    ("chained_is", "{{ x is defined is defined }}",
     "1:17: tests cannot be chained with 'is'", None),
    ("test_argument_quirk", "{{ 'a' is string if true else 1 }}",
     "expected '}}', got 'true'", True),
    ("empty_output", "{{ }}", "expected an expression, got '}}'", True),
    ("missing_statement", "{% %}", "expected a statement name", True),
    ("attribute_not_name", "{{ a.'b' }}",
     "expected an attribute name after '.'", True),
    ("star_args", "{{ f(*xs) }}", "unsupported '*' arguments", False),
]


def render(env, template, messages, add_generation_prompt, bos, eos):
    return env.from_string(template).render(
        messages=messages, add_generation_prompt=add_generation_prompt,
        bos_token=bos, eos_token=eos)


def build_cases(env, spec):
    cases = []
    for name in spec["conversations"]:
        for add_generation_prompt in (False, True):
            messages = CONVERSATIONS[name]
            case = {"conversation": name, "messages": messages,
                    "add_generation_prompt": add_generation_prompt}
            try:
                case["expected"] = render(env, spec["template"], messages,
                                          add_generation_prompt,
                                          spec["bos_token"], spec["eos_token"])
            except RaisedByTemplate as e:
                # kiln's message holds jinja2's, maybe after a position.
                error = spec["errors"].get(name) or "raise_exception: " + str(e)
                assert str(e) in error, (spec["name"], error)
                case["error"] = error
            except Exception as e:  # noqa: BLE001 - any jinja2 failure
                if name not in spec["errors"]:
                    raise RuntimeError(f"{spec['name']}/{name}: unexpected "
                                       f"{type(e).__name__}: {e}") from e
                case["error"] = spec["errors"][name]
            cases.append(case)
    return cases


def main():
    env = make_environment()
    specs = list(MODEL_TEMPLATES)
    for name, template in SYNTHETIC.items():
        specs.append({"name": "synthetic_" + name, "template": template,
                      "bos_token": "<s>", "eos_token": "</s>",
                      "conversations": SYNTHETIC_CONVERSATIONS, "errors": {}})
    for name, template, error in RUNTIME_ERRORS:
        specs.append({"name": "error_" + name, "template": template,
                      "bos_token": "", "eos_token": "",
                      "conversations": ["system_multi"],
                      "errors": {"system_multi": error}})
    templates = []
    for spec in specs:
        cases = build_cases(env, spec)
        if spec["name"].startswith("error_"):
            assert all("error" in c for c in cases), spec["name"]
        templates.append({"name": spec["name"], "template": spec["template"],
                          "bos_token": spec["bos_token"],
                          "eos_token": spec["eos_token"], "cases": cases})

    parse_errors = []
    for name, template, error, jinja_rejects in PARSE_ERRORS:
        if jinja_rejects is not None:
            try:
                env.from_string(template)
                rejected = False
            except (jinja2.exceptions.TemplateSyntaxError, SyntaxError):
                rejected = True
            assert rejected == jinja_rejects, (name, rejected)
        parse_errors.append({"name": name, "template": template,
                             "error": error})

    os.makedirs(OUT_DIR, exist_ok=True)
    path = os.path.join(OUT_DIR, "templates.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"templates": templates, "parse_errors": parse_errors}, f,
                  ensure_ascii=False, indent=1)
        f.write("\n")
    count = sum(len(t["cases"]) for t in templates)
    print(f"wrote {path}: {len(templates)} templates, {count} cases, "
          f"{len(parse_errors)} parse errors")


if __name__ == "__main__":
    main()
