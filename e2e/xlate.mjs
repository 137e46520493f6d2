// Each official SDK calling models of the other providers through Sluice,
// which translates between the wire formats; see run.mjs. A case is
// SDK-CALL:TARGET, TARGET naming the provider whose model is called. The
// "-tools" calls make a tool round trip: the model calls get_weather, the
// script answers, the model replies.
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI, ApiError } from '@google/genai';
import { run, headersObject } from './run.mjs';

// Models by provider, as each SDK names them: a Gemini path holds one
// segment, so the Gemini SDK names models the price table knows.
const models = {
  openai: 'gpt-4.1',
  anthropic: 'claude-sonnet-4-5',
  gemini: 'gemini-2.5-flash',
};

const question = 'What is the weather in Paris?';
const toolResult = '{"temp":18,"sky":"overcast"}';
const weatherSchema = {
  type: 'object',
  properties: { city: { type: 'string' } },
  required: ['city'],
};

function target(name) {
  const t = name.split(':')[1];
  if (!models[t]) throw new Error(`case ${name} names no target`);
  return models[t];
}

function openai({ baseURL, apiKey }) {
  return new OpenAI({ baseURL, apiKey, timeout: 30_000, maxRetries: 0 });
}

function anthropic({ baseURL, apiKey }) {
  return new Anthropic({ baseURL, apiKey, timeout: 30_000, maxRetries: 0 });
}

function gemini({ baseURL, apiKey }) {
  return new GoogleGenAI({ apiKey, httpOptions: { baseUrl: baseURL, timeout: 30_000 } });
}

const chatTools = [{ type: 'function', function: { name: 'get_weather', description: 'Current weather in a city', parameters: weatherSchema } }];

async function chat(env, model) {
  const r = await openai(env).chat.completions.create({
    model,
    messages: [
      { role: 'system', content: 'Answer in one sentence.' },
      { role: 'user', content: question },
    ],
    max_tokens: 512,
  });
  return { id: r.id, text: r.choices[0].message.content, finish_reason: r.choices[0].finish_reason, usage: r.usage };
}

// chatStreamTools makes a tool round trip with streamed answers, the
// second asking for usage.
async function chatStreamTools(env, model) {
  const c = openai(env);
  const messages = [{ role: 'user', content: question }];
  const first = await c.chat.completions.stream({ model, messages, tools: chatTools, max_tokens: 512 }).finalChatCompletion();
  const msg = first.choices[0].message;
  const call = msg.tool_calls?.[0];
  if (!call) return { error: 'no tool call', first };
  messages.push(msg, { role: 'tool', tool_call_id: call.id, content: toolResult });
  const stream = await c.chat.completions.create({ model, messages, tools: chatTools, max_tokens: 512, stream: true, stream_options: { include_usage: true } });
  let text = '';
  let usage = null;
  let finish = null;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? '';
    finish = chunk.choices[0]?.finish_reason ?? finish;
    if (chunk.usage) usage = chunk.usage;
  }
  return {
    call: { id: call.id, name: call.function.name, arguments: JSON.parse(call.function.arguments) },
    first_finish: first.choices[0].finish_reason,
    text,
    finish_reason: finish,
    usage,
  };
}

const responseTools = [{ type: 'function', name: 'get_weather', description: 'Current weather in a city', parameters: weatherSchema, strict: false }];

async function responses(env, model) {
  const r = await openai(env).responses.create({ model, instructions: 'Answer in one sentence.', input: question, max_output_tokens: 512 });
  return { id: r.id, status: r.status, text: r.output_text, usage: r.usage };
}

async function responsesStreamTools(env, model) {
  const c = openai(env);
  const input = [{ role: 'user', content: question }];
  const first = await c.responses.stream({ model, input, tools: responseTools, max_output_tokens: 512 }).finalResponse();
  const call = first.output.find((o) => o.type === 'function_call');
  if (!call) return { error: 'no tool call', first };
  input.push(call, { type: 'function_call_output', call_id: call.call_id, output: toolResult });
  const second = await c.responses.stream({ model, input, tools: responseTools, max_output_tokens: 512 }).finalResponse();
  return {
    call: { id: call.call_id, name: call.name, arguments: JSON.parse(call.arguments) },
    text: second.output_text,
    status: second.status,
    usage: second.usage,
  };
}

const anthropicTools = [{ name: 'get_weather', description: 'Current weather in a city', input_schema: weatherSchema }];

async function messages(env, model) {
  const m = await anthropic(env).messages.create({
    model,
    max_tokens: 512,
    system: 'Answer in one sentence.',
    messages: [{ role: 'user', content: question }],
  });
  return { id: m.id, text: m.content.filter((b) => b.type === 'text').map((b) => b.text).join(''), stop_reason: m.stop_reason, usage: m.usage };
}

async function messagesStreamTools(env, model) {
  const c = anthropic(env);
  const msgs = [{ role: 'user', content: question }];
  const first = await c.messages.stream({ model, max_tokens: 512, messages: msgs, tools: anthropicTools }).finalMessage();
  const call = first.content.find((b) => b.type === 'tool_use');
  if (!call) return { error: 'no tool call', first };
  msgs.push({ role: 'assistant', content: first.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: toolResult }] });
  const types = [];
  const stream = c.messages.stream({ model, max_tokens: 512, messages: msgs, tools: anthropicTools });
  stream.on('streamEvent', (ev) => types.push(ev.type));
  const second = await stream.finalMessage();
  return {
    call: { id: call.id, name: call.name, arguments: call.input },
    first_stop: first.stop_reason,
    text: second.content.filter((b) => b.type === 'text').map((b) => b.text).join(''),
    stop_reason: second.stop_reason,
    types,
    usage: second.usage,
  };
}

const geminiTools = [{ functionDeclarations: [{ name: 'get_weather', description: 'Current weather in a city', parametersJsonSchema: weatherSchema }] }];

async function generate(env, model) {
  const r = await gemini(env).models.generateContent({
    model,
    contents: question,
    config: { systemInstruction: 'Answer in one sentence.', maxOutputTokens: 512 },
  });
  return { text: r.text, finish_reason: r.candidates?.[0]?.finishReason, usage: r.usageMetadata };
}

async function generateStreamTools(env, model) {
  const c = gemini(env);
  const contents = [{ role: 'user', parts: [{ text: question }] }];
  const config = { tools: geminiTools, maxOutputTokens: 512 };
  let call = null;
  const modelParts = [];
  for await (const chunk of await c.models.generateContentStream({ model, contents, config })) {
    for (const p of chunk.candidates?.[0]?.content?.parts ?? []) {
      modelParts.push(p);
      if (p.functionCall) call = p.functionCall;
    }
  }
  if (!call) return { error: 'no tool call', modelParts };
  contents.push({ role: 'model', parts: modelParts }, { role: 'user', parts: [{ functionResponse: { id: call.id, name: call.name, response: { result: toolResult } } }] });
  const texts = [];
  let usage = null;
  let finish = null;
  for await (const chunk of await c.models.generateContentStream({ model, contents, config })) {
    texts.push(chunk.text ?? '');
    if (chunk.usageMetadata) usage = chunk.usageMetadata;
    finish = chunk.candidates?.[0]?.finishReason ?? finish;
  }
  return { call: { id: call.id, name: call.name, arguments: call.args }, text: texts.join(''), finish_reason: finish, usage };
}

const calls = {
  chat,
  'chat-stream-tools': chatStreamTools,
  responses,
  'responses-stream-tools': responsesStreamTools,
  messages,
  'messages-stream-tools': messagesStreamTools,
  generate,
  'generate-stream-tools': generateStreamTools,
};

const cases = {};
for (const [call, fn] of Object.entries(calls)) {
  for (const t of Object.keys(models)) {
    cases[`${call}:${t}`] = (env) => fn(env, target(`${call}:${t}`));
  }
}

run(cases, (err) => {
  if (err instanceof OpenAI.APIError) {
    return { sdk: true, class: err.constructor.name, status: err.status ?? null, type: err.type ?? null, code: err.code ?? null, message: err.message, body: err.error ?? null, headers: headersObject(err.headers) };
  }
  if (err instanceof Anthropic.APIError) {
    return { sdk: true, class: err.constructor.name, status: err.status ?? null, type: err.type ?? null, message: err.message, body: err.error ?? null, headers: headersObject(err.headers) };
  }
  if (err instanceof ApiError) {
    return { sdk: true, class: 'ApiError', status: err.status ?? null, message: err.message };
  }
  return null;
});
