// The Vercel AI SDK and LangChain JS, set up only from the environment
// `sluice connect ai-sdk` and `sluice connect langchain` print (and, where
// the library reads no variable for it, the base URL the recipe's code
// gives), each making a call with a tool round trip: the model asks for
// read_note, the script runs it and sends the result back.
//
// Prints one JSON line: {"ok":true,"result":{text, toolCalls}} or
// {"ok":false,"error":{status, message, ...}} for an error the library
// raised with the HTTP status on it.
//
// Usage: node tools.mjs CASE, with SLUICE_E2E_BASE_URL (the gateway's root
// URL) and SLUICE_E2E_NOTE (the file read_note reads) set.

import fs from 'node:fs';
import { streamText, tool, jsonSchema, stepCountIs } from 'ai';
import { openai } from '@ai-sdk/openai';
import { anthropic } from '@ai-sdk/anthropic';
import { createGoogleGenerativeAI } from '@ai-sdk/google';
import { ChatOpenAI } from '@langchain/openai';
import { ChatAnthropic } from '@langchain/anthropic';
import { HumanMessage, ToolMessage } from '@langchain/core/messages';

const base = process.env.SLUICE_E2E_BASE_URL;
const note = process.env.SLUICE_E2E_NOTE;
const prompt = 'What does the note say? Use read_note.';
let toolCalls = 0;

function readNote() {
  toolCalls++;
  return fs.readFileSync(note, 'utf8');
}

const schema = { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] };

async function aiSDK(model) {
  const result = streamText({
    model,
    prompt,
    maxRetries: 0,
    tools: { read_note: tool({ description: 'Read the note', inputSchema: jsonSchema(schema), execute: async () => readNote() }) },
    stopWhen: stepCountIs(3),
  });
  let streamError;
  // Errors of a stream come through as parts; keep the first.
  for await (const part of result.fullStream) {
    if (part.type === 'error' && !streamError) streamError = part.error;
  }
  if (streamError) throw streamError;
  return { text: await result.text, toolCalls };
}

async function langChain(model) {
  const bound = model.bindTools([{ type: 'function', function: { name: 'read_note', description: 'Read the note', parameters: schema } }]);
  const messages = [new HumanMessage(prompt)];
  for (let step = 0; step < 3; step++) {
    // Streamed and put together: invoke with streaming counts tokens with
    // tiktoken first, fetching its encoding from the internet.
    let ai;
    for await (const chunk of await bound.stream(messages)) ai = ai ? ai.concat(chunk) : chunk;
    messages.push(ai);
    if (!ai.tool_calls?.length) return { text: typeof ai.content === 'string' ? ai.content : JSON.stringify(ai.content), toolCalls };
    for (const call of ai.tool_calls) {
      messages.push(new ToolMessage({ tool_call_id: call.id, content: readNote() }));
    }
  }
  throw new Error('no answer after three steps');
}

const cases = {
  // The AI SDK's default providers read OPENAI_* and ANTHROPIC_* from the
  // environment; Google's base URL is only taken in code.
  'ai-sdk-openai': () => aiSDK(openai('gpt-5.5')),
  'ai-sdk-anthropic': () => aiSDK(anthropic('claude-sonnet-4-5')),
  'ai-sdk-google': () => aiSDK(createGoogleGenerativeAI({ baseURL: base + '/v1beta' })('gemini-2.5-flash')),
  // LangChain reads OPENAI_* and ANTHROPIC_API_URL / ANTHROPIC_API_KEY.
  'langchain-openai': () => langChain(new ChatOpenAI({ model: 'gpt-5.5', maxRetries: 0 })),
  'langchain-anthropic': () => langChain(new ChatAnthropic({ model: 'claude-sonnet-4-5', maxRetries: 0 })),
};

function describe(err) {
  // AI SDK: APICallError (statusCode, responseBody), possibly wrapped in a
  // RetryError; LangChain: the provider SDK's APIError (status).
  let e = err;
  if (e?.lastError) e = e.lastError;
  const status = e?.statusCode ?? e?.status ?? e?.cause?.status;
  if (!status) return null;
  return { sdk: true, class: e?.constructor?.name, status, message: String(e?.message ?? ''), body: e?.responseBody ?? null };
}

const fn = cases[process.argv[2]];
if (!fn) {
  console.error(`unknown case ${process.argv[2]}; known: ${Object.keys(cases).join(', ')}`);
  process.exit(2);
}
let outcome;
try {
  outcome = { ok: true, result: await fn() };
} catch (err) {
  const e = describe(err);
  if (!e) throw err;
  outcome = { ok: false, error: e };
}
process.stdout.write(JSON.stringify(outcome) + '\n');
