// The openai SDK's calls, one case per argument; see run.mjs.
import OpenAI from 'openai';
import { run, headersObject } from './run.mjs';

const messages = [
  { role: 'system', content: 'Answer in one sentence.' },
  { role: 'user', content: 'What is a sluice?' },
];

function client({ baseURL, apiKey }) {
  // maxRetries stays at the SDK's default (2): the budget test checks that
  // a 402 is not retried.
  return new OpenAI({ baseURL, apiKey, timeout: 30_000 });
}

async function chatStream(env, extra) {
  const stream = await client(env).chat.completions.create({
    model: 'gpt-4o-mini',
    messages,
    stream: true,
    ...extra,
  });
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  const content = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
  return { chunks, content };
}

const cases = {
  async chat(env) {
    const r = await client(env).chat.completions.create({ model: 'gpt-4o-mini', messages });
    return {
      id: r.id,
      model: r.model,
      content: r.choices[0].message.content,
      finish_reason: r.choices[0].finish_reason,
      usage: r.usage,
    };
  },
  'chat-stream': (env) => chatStream(env, {}),
  'chat-stream-usage': (env) => chatStream(env, { stream_options: { include_usage: true } }),
  async responses(env) {
    const r = await client(env).responses.create({
      model: 'gpt-5-mini',
      input: 'How does a budget hold work?',
      reasoning: { effort: 'medium' },
    });
    return { id: r.id, model: r.model, status: r.status, output_text: r.output_text, usage: r.usage };
  },
  async 'responses-stream'(env) {
    const stream = await client(env).responses.create({
      model: 'gpt-5-mini',
      input: 'How does a budget hold work?',
      stream: true,
    });
    const types = [];
    let text = '';
    let completed = null;
    for await (const ev of stream) {
      types.push(ev.type);
      if (ev.type === 'response.output_text.delta') text += ev.delta;
      if (ev.type === 'response.completed') completed = ev.response;
    }
    // Raw stream events carry no output_text helper; read the final
    // response's message parts instead.
    const finalText = (completed?.output ?? [])
      .filter((item) => item.type === 'message')
      .flatMap((item) => item.content)
      .filter((part) => part.type === 'output_text')
      .map((part) => part.text)
      .join('');
    return { types, text, output_text: finalText, usage: completed?.usage };
  },
  async embeddings(env) {
    // No encoding_format: the SDK asks for base64 and decodes it itself.
    const r = await client(env).embeddings.create({
      model: 'text-embedding-3-small',
      input: 'sluice gate',
      dimensions: 8,
    });
    return { model: r.model, embedding: Array.from(r.data[0].embedding), usage: r.usage };
  },
  async models(env) {
    const ids = [];
    for await (const m of client(env).models.list()) ids.push(m.id);
    return { ids };
  },
};

run(cases, (err) => {
  if (err instanceof OpenAI.APIError) {
    return {
      sdk: true,
      class: err.constructor.name,
      status: err.status ?? null,
      type: err.type ?? null,
      code: err.code ?? null,
      message: err.message,
      body: err.error ?? null,
      headers: headersObject(err.headers),
    };
  }
  if (err instanceof OpenAI.OpenAIError) {
    return { sdk: true, class: err.constructor.name, status: null, message: err.message };
  }
  return null;
});
