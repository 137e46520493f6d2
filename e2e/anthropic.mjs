// The @anthropic-ai/sdk calls, one case per argument; see run.mjs.
import Anthropic from '@anthropic-ai/sdk';
import { run, headersObject } from './run.mjs';

const messages = [{ role: 'user', content: 'How does Sluice keep spend under a budget?' }];

function client({ baseURL, apiKey }) {
  // maxRetries stays at the SDK's default (2): the budget test checks that
  // a 402 is not retried.
  return new Anthropic({ baseURL, apiKey, timeout: 30_000 });
}

// xAPIKeyClient sends the key as x-api-key, as older versions of the SDK
// and Claude Code do, instead of this version's Authorization: Bearer.
function xAPIKeyClient({ baseURL, apiKey }) {
  return new Anthropic({ baseURL, apiKey: null, defaultHeaders: { 'x-api-key': apiKey }, timeout: 30_000 });
}

async function createMessage(c) {
  const m = await c.messages.create({
    model: 'claude-sonnet-4-5',
    max_tokens: 1024,
    messages,
  });
  return { id: m.id, model: m.model, text: m.content[0].text, stop_reason: m.stop_reason, usage: m.usage };
}

const cases = {
  messages: (env) => createMessage(client(env)),
  'messages-x-api-key': (env) => createMessage(xAPIKeyClient(env)),
  async 'messages-stream'(env) {
    const stream = client(env).messages.stream({
      model: 'claude-haiku-4-5',
      max_tokens: 1024,
      messages,
    });
    const types = [];
    stream.on('streamEvent', (ev) => types.push(ev.type));
    const m = await stream.finalMessage();
    return { id: m.id, model: m.model, types, text: m.content[0].text, stop_reason: m.stop_reason, usage: m.usage };
  },
};

run(cases, (err) => {
  if (err instanceof Anthropic.APIError) {
    return {
      sdk: true,
      class: err.constructor.name,
      status: err.status ?? null,
      type: err.type ?? null,
      payment_required: err instanceof Anthropic.PaymentRequiredError,
      message: err.message,
      body: err.error ?? null,
      headers: headersObject(err.headers),
    };
  }
  if (err instanceof Anthropic.AnthropicError) {
    return { sdk: true, class: err.constructor.name, status: null, message: err.message };
  }
  return null;
});
