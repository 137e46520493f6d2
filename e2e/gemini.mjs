// The @google/genai calls, one case per argument; see run.mjs.
import { GoogleGenAI, ApiError } from '@google/genai';
import { run } from './run.mjs';

const contents = 'Why meter every call?';

// client uses the SDK's default API version (v1 in @google/genai 3.x)
// unless apiVersion is given.
function client({ baseURL, apiKey }, apiVersion) {
  const httpOptions = { baseUrl: baseURL, timeout: 30_000 };
  if (apiVersion) httpOptions.apiVersion = apiVersion;
  return new GoogleGenAI({ apiKey, httpOptions });
}

async function generate(env, apiVersion) {
  const r = await client(env, apiVersion).models.generateContent({ model: 'gemini-2.5-flash', contents });
  return { text: r.text, model_version: r.modelVersion, response_id: r.responseId, usage: r.usageMetadata };
}

async function generateStream(env, apiVersion) {
  const stream = await client(env, apiVersion).models.generateContentStream({ model: 'gemini-2.5-flash', contents });
  const texts = [];
  let usage = null;
  for await (const chunk of stream) {
    texts.push(chunk.text);
    if (chunk.usageMetadata) usage = chunk.usageMetadata;
  }
  return { texts, text: texts.join(''), usage };
}

const cases = {
  generate: (env) => generate(env),
  // With retryOptions the SDK retries 429 itself (x-should-retry is not
  // read): three attempts, a tenth of a second apart.
  async 'generate-retry'(env) {
    const c = new GoogleGenAI({
      apiKey: env.apiKey,
      httpOptions: { baseUrl: env.baseURL, timeout: 30_000, retryOptions: { attempts: 3, initialDelay: 0.1, maxDelay: 0.2, jitter: 0 } },
    });
    const r = await c.models.generateContent({ model: 'gemini-2.5-flash', contents });
    return { text: r.text, usage: r.usageMetadata };
  },
  'generate-stream': (env) => generateStream(env),
  'generate-v1beta': (env) => generate(env, 'v1beta'),
  'generate-stream-v1beta': (env) => generateStream(env, 'v1beta'),
};

run(cases, (err) => {
  if (err instanceof ApiError) {
    let body = null;
    try {
      body = JSON.parse(err.message);
    } catch {
      // The SDK puts the error body, as JSON, in the message; anything
      // else is reported as it is.
    }
    return { sdk: true, class: 'ApiError', status: err.status ?? null, message: err.message, body };
  }
  return null;
});
