// Connect: copyable lines that point SDKs and tools at Sluice, with the
// live address and a token made right here.

import { api, type ConnectResult } from '../api';
import type { Page } from '../app';
import { h, replace, type Child } from '../dom';
import { busy, button, callout, card, codeBlock, errorMessage, fieldWithButton, input, pageHead, segmented, toast } from '../ui';

const PLACEHOLDER = '$SLUICE_TOKEN';

interface Snippet {
  id: string;
  group: 'shell' | 'python' | 'typescript' | 'tools';
  title: string;
  note?: Child;
  code: (base: string, token: string, tokenExpr: { py: string; ts: string }) => string;
}

const SNIPPETS: Snippet[] = [
  {
    id: 'env',
    group: 'shell',
    title: 'Shell exports',
    note: ['The SDKs read these. ', h('code', null, 'eval "$(sluice env)"'), ' prints the same lines. Coding tools each want their own setup (Codex ignores these variables): see Coding tools.'],
    code: (b, t) =>
      [
        t === PLACEHOLDER ? '# export SLUICE_TOKEN=sk-sluice-…   (make a token above)' : `export SLUICE_TOKEN=${t}`,
        `export OPENAI_BASE_URL=${b}/v1`,
        `export OPENAI_API_BASE=${b}/v1`,
        `export OPENAI_API_KEY="$SLUICE_TOKEN"`,
        `export ANTHROPIC_BASE_URL=${b}`,
        `export ANTHROPIC_API_KEY="$SLUICE_TOKEN"`,
        `export GOOGLE_GEMINI_BASE_URL=${b}`,
        `export GEMINI_API_KEY="$SLUICE_TOKEN"`,
      ].join('\n'),
  },
  {
    id: 'curl',
    group: 'shell',
    title: 'curl',
    code: (b, t) =>
      `curl ${b}/v1/chat/completions \\
  -H "Authorization: Bearer ${t}" \\
  -H "Content-Type: application/json" \\
  -d '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}'`,
  },
  {
    id: 'openai-py',
    group: 'python',
    title: 'OpenAI SDK · Python',
    code: (b, _t, e) => `from openai import OpenAI

client = OpenAI(base_url="${b}/v1", api_key=${e.py})
r = client.chat.completions.create(
    model="gpt-4o-mini",
    messages=[{"role": "user", "content": "Hello"}],
)
print(r.choices[0].message.content)`,
  },
  {
    id: 'anthropic-py',
    group: 'python',
    title: 'Anthropic SDK · Python',
    code: (b, _t, e) => `import anthropic

client = anthropic.Anthropic(base_url="${b}", api_key=${e.py})
m = client.messages.create(
    model="claude-sonnet-4-5",
    max_tokens=1024,
    messages=[{"role": "user", "content": "Hello"}],
)
print(m.content[0].text)`,
  },
  {
    id: 'gemini-py',
    group: 'python',
    title: 'Gemini SDK (google-genai) · Python',
    code: (b, _t, e) => `from google import genai
from google.genai import types

client = genai.Client(
    api_key=${e.py},
    http_options=types.HttpOptions(base_url="${b}"),
)
r = client.models.generate_content(model="gemini-2.5-flash", contents="Hello")
print(r.text)`,
  },
  {
    id: 'langchain-py',
    group: 'python',
    title: 'LangChain · Python',
    code: (b, _t, e) => `from langchain_openai import ChatOpenAI
from langchain_anthropic import ChatAnthropic

gpt = ChatOpenAI(model="gpt-4o-mini", base_url="${b}/v1", api_key=${e.py})
claude = ChatAnthropic(model="claude-sonnet-4-5", base_url="${b}", api_key=${e.py})
print(gpt.invoke("Hello").content)`,
  },
  {
    id: 'openai-ts',
    group: 'typescript',
    title: 'OpenAI SDK · TypeScript',
    code: (b, _t, e) => `import OpenAI from 'openai';

const client = new OpenAI({ baseURL: '${b}/v1', apiKey: ${e.ts} });
const r = await client.chat.completions.create({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'Hello' }],
});
console.log(r.choices[0].message.content);`,
  },
  {
    id: 'anthropic-ts',
    group: 'typescript',
    title: 'Anthropic SDK · TypeScript',
    code: (b, _t, e) => `import Anthropic from '@anthropic-ai/sdk';

const client = new Anthropic({ baseURL: '${b}', apiKey: ${e.ts} });
const m = await client.messages.create({
  model: 'claude-sonnet-4-5',
  max_tokens: 1024,
  messages: [{ role: 'user', content: 'Hello' }],
});
console.log(m.content);`,
  },
  {
    id: 'gemini-ts',
    group: 'typescript',
    title: 'Gemini SDK (@google/genai) · TypeScript',
    code: (b, _t, e) => `import { GoogleGenAI } from '@google/genai';

const ai = new GoogleGenAI({ apiKey: ${e.ts}, httpOptions: { baseUrl: '${b}' } });
const r = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'Hello' });
console.log(r.text);`,
  },
  {
    id: 'vercel-ai',
    group: 'typescript',
    title: 'Vercel AI SDK · TypeScript',
    code: (b, _t, e) => `import { generateText } from 'ai';
import { createOpenAI } from '@ai-sdk/openai';
import { createAnthropic } from '@ai-sdk/anthropic';

const openai = createOpenAI({ baseURL: '${b}/v1', apiKey: ${e.ts} });
const anthropic = createAnthropic({ baseURL: '${b}/v1', apiKey: ${e.ts} });

const { text } = await generateText({ model: openai('gpt-4o-mini'), prompt: 'Hello' });
console.log(text);`,
  },
];

/** TOOLS are shown from the recipes `sluice connect TOOL` prints, made by the gateway. */
const TOOLS = ['claude-code', 'codex', 'aider', 'opencode', 'continue', 'cursor'];

const GROUPS: [string, string][] = [
  ['all', 'All'],
  ['shell', 'Shell & curl'],
  ['python', 'Python'],
  ['typescript', 'TypeScript'],
  ['tools', 'Coding tools'],
];

export const connectPage: Page = {
  id: 'connect',
  title: 'Connect',
  icon: 'connect',
  mount(el, app) {
    let token: string | null = null;
    let group = 'all';
    const base = `http://${app.status.addr}`;
    const tokenHost = h('div', { class: 'connect-token' });
    const grid = h('div', { class: 'snippets' });

    const name = input({ name: 'name', value: 'snippets', placeholder: 'e.g. my-project' });
    const make = button('Make a token for these snippets', { kind: 'primary', type: 'submit', icon: 'plus' });
    const form = h('form', { class: 'inline-form', 'aria-label': 'Make a token for these snippets' }, fieldWithButton('Token name', name, make));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const n = name.value.trim();
      if (!n) return;
      void busy(make, async () => {
        try {
          token = await api.newToken(n);
          replace(
            tokenHost,
            callout('ok', [`The snippets below now carry token “${n}”. `, h('strong', null, 'Copy what you need now'), ': the token is not shown again once you leave this page.'], { title: 'Token made', role: 'status' }),
          );
          render();
        } catch (err) {
          toast(errorMessage(err), 'danger', { title: 'Could not make the token' });
        }
      });
    });
    replace(
      tokenHost,
      h('p', { class: 'muted' }, 'The snippets use ', h('code', null, PLACEHOLDER), ' until you make a token here. Or keep the placeholder and set SLUICE_TOKEN in your shell.'),
      form,
    );

    const recipes = new Map<string, ConnectResult>();
    const made = new Set<string>();
    /** the model each tool was set to run on here, through its alias */
    const models = new Map<string, string>();
    void Promise.all(
      TOOLS.map(async (id) => {
        try {
          recipes.set(id, await api.connect(id, false));
        } catch (err) {
          toast(errorMessage(err), 'danger', { title: `Could not load the ${id} recipe` });
        }
      }),
    ).then(() => render());

    function toolCard(id: string): HTMLElement | null {
      const r = recipes.get(id);
      if (!r) return null;
      const rec = r.recipe;
      const makeBtn = button(`Make a token for ${rec.title}`, {
        size: 'sm',
        icon: 'plus',
        onClick: () =>
          void busy(makeBtn, async () => {
            try {
              const res = await api.connect(id, true, models.get(id) ?? '');
              recipes.set(id, res);
              made.add(id);
              toast(`Token “${res.token_name}” made for ${rec.title}. Copy the lines now: the token is not shown again.`, 'ok', { title: 'Token made' });
              render();
            } catch (err) {
              toast(errorMessage(err), 'danger', { title: 'Could not make the token' });
            }
          }),
      });
      const model = models.get(id);
      const cmd = `sluice connect ${id}${model ? ` --model ${model}` : ''}`;
      return h(
        'article',
        { class: 'card snippet', 'aria-label': rec.title },
        h('h3', null, rec.title),
        h('p', { class: 'muted small' }, rec.file?.writable ? ['Or from a terminal: ', h('code', null, `${cmd} --write`), ' edits ', h('code', null, rec.file.path), ' for you (', h('code', null, `sluice connect ${id} --undo`), ' restores it).'] : ['The same text: ', h('code', null, cmd)]),
        // The model comes first: the token is made into its lines.
        id === 'claude-code' && !made.has(id) ? modelForm(id, rec.title) : null,
        codeBlock(r.text, rec.title),
        rec.tool === 'cursor' || made.has(id) ? null : makeBtn,
      );
    }

    /** modelForm runs a tool on another provider's model, through the alias named after the tool. */
    function modelForm(id: string, title: string): HTMLElement {
      const target = input({ name: 'model', value: models.get(id) ?? '', placeholder: 'e.g. openai/gpt-5-mini' });
      const use = button('Use this model', { size: 'sm', type: 'submit' });
      const form = h(
        'form',
        { class: 'inline-form', 'aria-label': `Run ${title} on another model` },
        fieldWithButton(`Run ${title} on another model`, target, use, [
          'Any provider’s model (provider/model, or one the price table knows). Sluice sets the alias ',
          h('code', null, id),
          ' to it and ',
          title,
          ' asks for that alias; the Aliases page adds fallbacks.',
        ]),
      );
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        const m = target.value.trim();
        if (!m) {
          target.focus();
          return;
        }
        void busy(use, async () => {
          try {
            const res = await api.connect(id, false, m);
            models.set(id, m);
            recipes.set(id, res);
            toast(`Alias “${res.recipe.model?.alias ?? id}” now goes to ${m}.`, 'ok', { title: `${title} on ${m}` });
            render();
          } catch (err) {
            toast(errorMessage(err), 'danger', { title: 'Could not use that model' });
          }
        });
      });
      return form;
    }

    function render(): void {
      const t = token ?? PLACEHOLDER;
      const expr = token ? { py: `"${token}"`, ts: `'${token}'` } : { py: 'os.environ["SLUICE_TOKEN"]', ts: 'process.env.SLUICE_TOKEN' };
      replace(
        grid,
        SNIPPETS.filter((s) => group === 'all' || s.group === group).map((s) => {
          let code = s.code(base, t, expr);
          if (!token && s.group === 'python') code = 'import os\n' + code;
          return h('article', { class: 'card snippet', 'aria-label': s.title }, h('h3', null, s.title), s.note ? h('p', { class: 'muted small' }, s.note) : null, codeBlock(code, s.title));
        }),
        group === 'all' || group === 'tools' ? TOOLS.map(toolCard) : null,
      );
    }

    el.append(
      pageHead('Connect your tools', ['Sluice listens on ', h('code', null, base), '. Point an SDK or tool there with a local token and every call is metered.']),
      card('Token', tokenHost),
      h('div', { class: 'snippet-filter' }, segmented('Show snippets for', GROUPS, group, (v) => ((group = v), render()))),
      grid,
    );
    render();
    return {};
  },
};
