// Prompts: a prompt and a model saved as an endpoint, POST /p/NAME. Edit
// one with a live preview of what the provider will receive, try it with
// inputs, and see its calls and spend. Every save is a version; any earlier
// one can be restored.

import { api, type Prompt, type PromptPreview, type PromptResult, type SpendRow } from '../api';
import type { App, Page } from '../app';
import { h, replace } from '../dom';
import { count, fullTime, when } from '../format';
import { exactMoney, formatMoney } from '../money';
import { badge, busy, button, callout, card, codeBlock, confirmRemoval, dataTable, empty, errorBox, errorMessage, fetchInto, field, input, loading, pageHead, toast } from '../ui';

const PREVIEW_DELAY_MS = 150;

function textarea(attrs: Record<string, unknown> = {}): HTMLTextAreaElement {
  return h('textarea', { class: 'input mono', spellcheck: 'false', ...attrs });
}

/** curlLine is the shell line that calls a prompt. */
export function curlLine(addr: string, p: { name: string }, inputs: string[]): string {
  const base = `curl -s http://${addr}/p/${p.name} \\\n  -H "Authorization: Bearer $SLUICE_TOKEN"`;
  if (inputs.length === 1 && inputs[0] === 'text') return `${base} \\\n  -H "Content-Type: text/plain" --data-binary @notes.txt`;
  const obj: Record<string, string> = {};
  for (const n of inputs) obj[n] = '…';
  return `${base} \\\n  -H "Content-Type: application/json" -d '${JSON.stringify(obj)}'`;
}

export const promptsPage: Page = {
  id: 'prompts',
  title: 'Prompts',
  icon: 'prompts',
  mount(el, app: App, params) {
    let alive = true;
    let prompts: Prompt[] = [];
    let spend = new Map<string, SpendRow>();
    let current: Prompt | null = null; // the saved prompt being edited; null: a new one
    let preview: PromptPreview | null = null;
    let previewTimer: number | undefined;
    let previewSeq = 0;
    const tryValues = new Map<string, string>();

    const listHost = h('div', null, loading());
    const editorHost = h('div');
    el.append(
      pageHead(
        'Prompts',
        ['A prompt and a model become an endpoint: scripts call ', h('code', null, 'POST /p/NAME'), ' with their data and get the answer, metered and budgeted like every other request.'],
        button('New prompt', { kind: 'primary', icon: 'plus', onClick: () => openEditor(null) }),
      ),
      card('Saved prompts', listHost, { class: 'card-table' }),
      editorHost,
    );

    async function load(): Promise<void> {
      const got = await fetchInto(listHost, () => alive, () => Promise.all([api.prompts(), api.promptSpend().catch(() => null)]));
      if (!got) return;
      const [ps, sp] = got;
      prompts = ps ?? [];
      spend = new Map((sp ?? []).map((r) => [r.key, r]));
      renderList();
    }

    function renderList(): void {
      if (prompts.length === 0) {
        replace(listHost, empty('No prompts yet', 'Save a prompt and a model, and call it from a script with curl, no SDK needed.', button('Create your first prompt', { kind: 'primary', icon: 'plus', onClick: () => openEditor(null) })));
        return;
      }
      replace(
        listHost,
        dataTable(
          'Prompts',
          ['Name', 'Model', ['Inputs', 'hide-sm'], ['Calls this month', 'num'], ['Spent this month', 'num']],
          prompts.map((p) => {
            const s = spend.get(p.name);
            return h(
              'tr',
              { dataset: { prompt: p.name }, class: current?.name === p.name ? 'is-selected' : '' },
              h('th', { scope: 'row' }, h('span', { class: 'mono' }, p.name), ' ', badge(`v${p.version}`, 'neutral'), p.schema ? badge('JSON', 'info', 'Output checked against a schema') : null),
              h('td', { class: 'mono' }, p.model),
              h('td', { class: 'hide-sm mono' }, inputsOf(p).join(', ') || '—'),
              h('td', { class: 'num' }, count(s?.requests ?? 0)),
              h('td', { class: 'num', title: s ? exactMoney(s.cost_usd) : undefined }, formatMoney(s?.cost_usd ?? '0')),
              h('td', { class: 'actions' }, button('Open', { size: 'sm', kind: 'ghost', icon: 'edit', label: `Open ${p.name}`, onClick: () => openEditor(p) })),
            );
          }),
          { actions: true },
        ),
      );
    }

    /** inputsOf lists a saved prompt's inputs the way the server does, from the texts. */
    function inputsOf(p: Prompt): string[] {
      const names: string[] = [];
      for (const s of [p.system ?? '', p.template]) {
        for (const m of s.matchAll(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g)) if (!names.includes(m[1])) names.push(m[1]);
      }
      return names;
    }

    function openEditor(p: Prompt | null): void {
      current = p;
      preview = null;
      tryValues.clear();
      renderList();
      const name = input({ name: 'name', value: p?.name ?? '', required: true, placeholder: 'e.g. summarize', readonly: p ? true : undefined, pattern: '[a-z0-9][a-z0-9_\\-]*' });
      const model = input({ name: 'model', value: p?.model ?? '', required: true, placeholder: 'e.g. gpt-4o-mini, claude-haiku-4-5, gemini-2.5-flash' });
      const system = textarea({ name: 'system', rows: '2', placeholder: 'Optional: how the model should behave' });
      system.value = p?.system ?? '';
      const template = textarea({ name: 'template', rows: '5', required: true, placeholder: 'Summarize these notes in three bullet points:\n\n{{text}}' });
      template.value = p?.template ?? '';
      const schema = textarea({ name: 'schema', rows: '3', placeholder: 'Optional: a JSON Schema the answer must fit' });
      schema.value = p?.schema ? JSON.stringify(p.schema, null, 2) : '';
      const maxTokens = input({ name: 'max_tokens', type: 'number', min: '0', step: '1', inputmode: 'numeric', value: p?.max_tokens ? String(p.max_tokens) : '' });
      const temperature = input({ name: 'temperature', type: 'number', min: '0', max: '2', step: '0.1', inputmode: 'decimal', value: p?.temperature != null ? String(p.temperature) : '' });

      const save = button(p ? 'Save as a new version' : 'Save prompt', { kind: 'primary', type: 'submit', icon: 'check' });
      const form = h(
        'form',
        { class: 'prompt-form', 'aria-label': 'Prompt' },
        h('div', { class: 'form-row' }, field('Name', name, { hint: p ? `Endpoint: POST /p/${p.name}` : 'Lower-case letters, digits, - and _: it is the path /p/NAME.' }), field('Model', model, { hint: 'As a /v1 request names it; provider/model picks a provider.' })),
        field('System', system, { wide: true }),
        field('Template', template, { wide: true, hint: ['Inputs are written ', h('code', null, '{{name}}'), '. They are filled in as plain text, never read as template syntax.'] }),
        field('Output schema', schema, { wide: true, hint: 'With a schema the provider is asked for JSON and the answer is checked; a mismatch is a 502 that says why.' }),
        h('div', { class: 'form-row' }, field('Max output tokens', maxTokens, { hint: 'Empty: the provider’s default (4096 for Anthropic).' }), field('Temperature', temperature, { hint: 'Empty: the provider’s default.' })),
        h('div', { class: 'form-actions' }, save, p ? button('Remove', { kind: 'ghost', icon: 'trash', label: `Remove ${p.name}`, onClick: () => remove(p) }) : null),
      );

      const draft = (): Prompt => {
        const d: Prompt = { name: name.value.trim(), model: model.value.trim(), template: template.value, system: system.value };
        if (schema.value.trim()) {
          try {
            d.schema = JSON.parse(schema.value);
          } catch {
            throw new Error('The output schema is not JSON.');
          }
        }
        if (maxTokens.value.trim()) d.max_tokens = Number(maxTokens.value);
        if (temperature.value.trim()) d.temperature = Number(temperature.value);
        return d;
      };

      form.addEventListener('submit', (e) => {
        e.preventDefault();
        void busy(save, async () => {
          try {
            const saved = await api.putPrompt(draft());
            toast(`Prompt “${saved.name}” saved as version ${saved.version}.`, 'ok');
            await load();
            openEditor(saved);
          } catch (err) {
            toast(errorMessage(err), 'danger', { title: 'Could not save the prompt' });
          }
        });
      });

      const previewHost = h('div', { class: 'prompt-preview', 'aria-live': 'polite' }, loading());
      const tryHost = h('div');
      const versionsHost = h('div');
      const schedule = () => {
        window.clearTimeout(previewTimer);
        previewTimer = window.setTimeout(() => void renderPreview(), PREVIEW_DELAY_MS);
      };
      for (const c of [name, model, system, template, schema, maxTokens, temperature]) c.addEventListener('input', schedule);

      async function renderPreview(): Promise<void> {
        const seq = ++previewSeq;
        let d: Prompt;
        try {
          d = draft();
        } catch (e) {
          replace(previewHost, callout('warn', errorMessage(e)));
          return;
        }
        const inputs: Record<string, string> = {};
        for (const [k, v] of tryValues) if (v !== '') inputs[k] = v;
        let pv: PromptPreview;
        try {
          pv = await api.previewPrompt(d, inputs);
        } catch (e) {
          if (alive && seq === previewSeq) replace(previewHost, errorBox(e));
          return;
        }
        if (!alive || seq !== previewSeq) return;
        const inputsChanged = !preview || preview.inputs.join() !== pv.inputs.join();
        preview = pv;
        replace(
          previewHost,
          pv.problem ? callout('warn', pv.problem, { title: 'Not ready to save' }) : null,
          h('p', { class: 'muted small' }, pv.provider ? `Sent to ${pv.provider} as its own request.` : '', pv.missing.length ? ` Inputs not filled in yet: ${pv.missing.join(', ')}.` : ''),
          pv.system ? [h('h3', null, 'System'), h('pre', { class: 'prompt-text', 'aria-label': 'Rendered system text' }, pv.system)] : null,
          h('h3', null, 'Prompt'),
          h('pre', { class: 'prompt-text', 'aria-label': 'Rendered prompt' }, pv.user),
          pv.request ? h('details', null, h('summary', null, 'The request body'), h('pre', { class: 'prompt-text' }, JSON.stringify(pv.request, null, 2))) : null,
        );
        if (inputsChanged) renderTry();
      }

      function renderTry(): void {
        if (!current) {
          replace(tryHost, h('p', { class: 'muted' }, 'Save the prompt to try it.'));
          return;
        }
        const saved = current;
        const names = preview?.inputs ?? inputsOf(saved);
        const fields = names.map((n) => {
          const ta = textarea({ name: `input-${n}`, rows: n === 'text' ? '4' : '1' });
          ta.value = tryValues.get(n) ?? '';
          ta.addEventListener('input', () => {
            tryValues.set(n, ta.value);
            schedule();
          });
          return field(n, ta, { wide: true });
        });
        const result = h('div', { class: 'prompt-result', 'aria-live': 'polite' });
        const run = button('Run', { kind: 'primary', type: 'submit', icon: 'arrowRight' });
        const tryForm = h('form', { class: 'prompt-try', 'aria-label': 'Try it' }, fields, h('div', { class: 'form-actions' }, run, h('span', { class: 'muted small' }, `Runs version ${saved.version}, metered as token “dashboard”.`)));
        tryForm.addEventListener('submit', (e) => {
          e.preventDefault();
          const inputs: Record<string, string> = {};
          for (const n of names) inputs[n] = tryValues.get(n) ?? '';
          void busy(run, async () => {
            replace(result, loading());
            try {
              const res = await api.runPrompt(saved.name, inputs);
              if (alive) replace(result, resultView(res));
              await load();
            } catch (err) {
              if (alive) replace(result, callout('danger', h('pre', { class: 'prompt-text' }, errorMessage(err)), { title: 'The call failed', role: 'alert' }));
              await load();
            }
          });
        });
        replace(
          tryHost,
          tryForm,
          result,
          h('h3', null, 'From a shell'),
          codeBlock(curlLine(app.status.addr, saved, names), `curl for ${saved.name}`),
        );
      }

      function resultView(res: PromptResult): HTMLElement {
        const text = typeof res.output === 'string' ? res.output : JSON.stringify(res.output, null, 2);
        return h(
          'div',
          { class: 'prompt-output' },
          h('h3', null, 'Output'),
          h('pre', { class: 'prompt-text', 'aria-label': 'Output' }, text),
          h(
            'p',
            { class: 'muted small' },
            `${res.model} · ${count(res.usage.input_tokens)} in → ${count(res.usage.output_tokens)} out · `,
            h('span', { title: exactMoney(res.cost_usd) }, formatMoney(res.cost_usd)),
            ' · ',
            h('a', { href: `#/requests?id=${encodeURIComponent(res.id)}` }, 'See the request'),
          ),
        );
      }

      async function renderVersions(): Promise<void> {
        if (!current) return;
        const p = current;
        let vs: Prompt[];
        try {
          vs = (await api.promptVersions(p.name)) ?? [];
        } catch (e) {
          replace(versionsHost, errorBox(e));
          return;
        }
        if (!alive || current !== p) return;
        replace(
          versionsHost,
          h(
            'ol',
            { class: 'prompt-versions', reversed: true, 'aria-label': 'Versions' },
            vs
              .slice()
              .reverse()
              .map((v) =>
                h(
                  'li',
                  null,
                  h('strong', null, `v${v.version}`),
                  ' ',
                  h('span', { class: 'muted', title: fullTime(v.created) }, when(v.created)),
                  ' · ',
                  v.deleted ? 'removed' : h('span', { class: 'mono' }, v.model),
                  v.note && !v.deleted ? h('span', { class: 'muted' }, ` · ${v.note}`) : null,
                  v.version === p.version
                    ? badge('current', 'ok')
                    : v.deleted
                      ? null
                      : button(`Restore v${v.version}`, {
                          size: 'sm',
                          kind: 'ghost',
                          onClick: async () => {
                            try {
                              const r = await api.rollbackPrompt(p.name, v.version);
                              toast(`Prompt “${p.name}” is back to version ${v.version}, saved as version ${r.version}.`, 'ok');
                              await load();
                              openEditor(r);
                            } catch (e) {
                              toast(errorMessage(e), 'danger', { title: 'Could not restore the version' });
                            }
                          },
                        }),
                ),
              ),
          ),
        );
      }

      replace(
        editorHost,
        h(
          'div',
          { class: 'prompt-grid' },
          card(p ? `Prompt “${p.name}”` : 'New prompt', form),
          h('div', { class: 'prompt-side' }, card('Preview', previewHost), card('Try it', tryHost), p ? card('Versions', versionsHost) : null),
        ),
      );
      renderTry();
      void renderPreview();
      void renderVersions();
      (p ? template : name).focus();
    }

    async function remove(p: Prompt): Promise<void> {
      await confirmRemoval({
        title: `Remove prompt “${p.name}”?`,
        body: `POST /p/${p.name} answers 404 from now on. Its versions are kept: restoring one brings it back.`,
        yes: 'Remove prompt',
        remove: () => api.deletePrompt(p.name),
        done: `Prompt “${p.name}” removed.`,
        failed: 'Could not remove the prompt',
        then: () => {
          current = null;
          replace(editorHost);
          return load();
        },
      });
    }

    void load().then(() => {
      const want = params.get('name');
      const p = want ? prompts.find((x) => x.name === want) : null;
      if (p) openEditor(p);
    });
    return {
      // Calls settle as requests do: keep the counts current.
      refresh: async () => {
        const [ps, sp] = await Promise.all([api.prompts().catch(() => null), api.promptSpend().catch(() => null)]);
        if (!alive || !ps) return;
        prompts = ps;
        spend = new Map((sp ?? []).map((r) => [r.key, r]));
        renderList();
      },
      unmount() {
        alive = false;
        window.clearTimeout(previewTimer);
      },
    };
  },
};
