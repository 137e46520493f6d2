// Browser end-to-end test of the Prompts page: Debian's Chromium, driven by
// playwright-core, against a running `sluice serve` whose OpenAI upstream
// is a fake. It creates a prompt, watches the live preview, tries it, sees
// its row, calls the endpoint as a script would, and restores a version.
//
// Environment (set by e2e/prompts_test.go):
//   SLUICE_URL    the one-time sign-in link
//   SLUICE_ADDR   host:port the gateway listens on
//   SLUICE_TOKEN  a local token (sk-sluice-...)
// Optional: SLUICE_SCREENSHOTS, CHROMIUM (see browser.mjs)

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { launch, needs, shotsDir, go as goTo } from './browser.mjs';

const env = { url: process.env.SLUICE_URL, addr: process.env.SLUICE_ADDR, token: process.env.SLUICE_TOKEN };
const skip = needs('SLUICE_URL', 'SLUICE_ADDR', 'SLUICE_TOKEN');
const WIDE = { width: 1440, height: 1000 };
// What the fake OpenAI upstream answers (e2e/testdata/openai/chat.json).
const ANSWER = 'A sluice is a channel with a gate that controls how much water flows through it.';

let page;
let close;
let pageErrors = [];

before(async () => {
  if (skip) return;
  ({ page, pageErrors, close } = await launch('prompts', { viewport: WIDE }));
  await page.goto(env.url);
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
});

after(() => close?.());

const go = (section) => goTo(page, section);

function rendered() {
  return page.getByLabel('Rendered prompt');
}

test('a new prompt shows its rendered text as it is typed', { skip }, async () => {
  await go('Prompts');
  await page.getByRole('heading', { name: 'Prompts', level: 1 }).waitFor();
  await page.getByRole('button', { name: 'New prompt' }).click();
  const form = page.getByRole('form', { name: 'Prompt' });
  await form.getByLabel('Name').fill('summarize');
  await form.getByLabel('Model').fill('gpt-4o-mini');
  await form.getByLabel('Template').fill('Summarize for a {{audience}}:\n{{text}}');
  // The preview follows the template, with the inputs not given yet
  // left in place.
  await page.waitForFunction(() => document.querySelector('[aria-label="Rendered prompt"]')?.textContent === 'Summarize for a {{audience}}:\n{{text}}');
  await page.getByText('Sent to openai as its own request.').waitFor();
  await form.getByLabel('Template').fill('Summarize for a {{audience}}:\n\n{{text}}');
  await page.waitForFunction(() => document.querySelector('[aria-label="Rendered prompt"]')?.textContent === 'Summarize for a {{audience}}:\n\n{{text}}');
  await page.getByRole('button', { name: 'Save prompt' }).click();
  await page.getByText('saved as version 1').waitFor();
  const row = page.getByRole('table', { name: 'Prompts' }).locator('tbody tr[data-prompt="summarize"]');
  await row.waitFor();
  assert.match(await row.innerText(), /gpt-4o-mini/);
});

test('try it: the inputs fill the preview, as data, and the answer comes back with its cost', { skip }, async () => {
  const tryForm = page.getByRole('form', { name: 'Try it' });
  await tryForm.getByLabel('audience').fill('{{text}}');
  await tryForm.getByLabel('text').fill('Notes: the gate was opened at noon.');
  // An input that names another input is shown as typed: it is data.
  await page.waitForFunction(
    () => document.querySelector('[aria-label="Rendered prompt"]')?.textContent === 'Summarize for a {{text}}:\n\nNotes: the gate was opened at noon.',
  );
  await tryForm.getByRole('button', { name: 'Run' }).click();
  const output = page.getByLabel('Output', { exact: true });
  await output.waitFor();
  assert.equal(await output.innerText(), ANSWER);
  const meta = page.locator('.prompt-output p');
  assert.match(await meta.innerText(), /gpt-4o-mini · [\d,]+ in → [\d,]+ out · \$/);
  // The call is in the prompt's row, counted and charged.
  const row = page.getByRole('table', { name: 'Prompts' }).locator('tbody tr[data-prompt="summarize"]');
  await page.waitForFunction(() => {
    const cells = document.querySelectorAll('tr[data-prompt="summarize"] td.num');
    return cells.length === 2 && cells[0].textContent === '1' && cells[1].textContent !== '$0.00';
  });
  assert.match(await row.innerText(), /summarize/);
  await page.setViewportSize(WIDE);
  await page.screenshot({ path: path.join(shotsDir, 'prompts.png'), fullPage: true });
});

test('the call is a row in the request log, marked with its prompt', { skip }, async () => {
  await page.getByRole('link', { name: 'See the request' }).click();
  await page.getByRole('heading', { name: 'Requests', level: 1 }).waitFor();
  const tagged = page.getByRole('table', { name: 'Requests' }).locator('tbody tr').filter({ hasText: 'p/summarize' }).first();
  await tagged.waitFor();
  assert.match(await tagged.innerText(), /dashboard/);
  // Its detail links back to the prompt.
  await page.getByRole('link', { name: 'POST /p/summarize' }).waitFor();
});

test('a script calls the endpoint with a local token and plain text', { skip }, async () => {
  // A prompt of one input, "text", takes text/plain.
  await go('Prompts');
  await page.getByRole('button', { name: 'New prompt' }).click();
  const form = page.getByRole('form', { name: 'Prompt' });
  await form.getByLabel('Name').fill('tldr');
  await form.getByLabel('Model').fill('gpt-4o-mini');
  await form.getByLabel('Template').fill('TL;DR: {{text}}');
  await page.getByRole('button', { name: 'Save prompt' }).click();
  await page.getByText('“tldr” saved as version 1').waitFor();
  // The page shows the curl line for it.
  await page.getByText('--data-binary @notes.txt').waitFor();

  const res = await fetch(`http://${env.addr}/p/tldr`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${env.token}`, 'Content-Type': 'text/plain' },
    body: 'notes',
  });
  assert.equal(res.status, 200);
  const ans = await res.json();
  assert.equal(ans.output, ANSWER);
  assert.equal(ans.prompt, 'tldr');
  assert.match(ans.cost_usd, /^0\.\d+$/);
  // The page's counts follow without a reload.
  await page.waitForFunction(() => document.querySelector('tr[data-prompt="tldr"] td.num')?.textContent === '1', null, { timeout: 5000 });
});

test('saving again makes a version; an earlier one can be restored', { skip }, async () => {
  await page.getByRole('button', { name: 'Open summarize' }).click();
  const form = page.getByRole('form', { name: 'Prompt' });
  await form.getByLabel('Model').fill('gpt-4.1-mini');
  await page.getByRole('button', { name: 'Save as a new version' }).click();
  await page.getByText('saved as version 2').waitFor();
  const versions = page.getByRole('list', { name: 'Versions' });
  await versions.getByText('v2').waitFor();
  await versions.getByRole('button', { name: 'Restore v1' }).click();
  await page.getByText('back to version 1, saved as version 3').waitFor();
  const row = page.locator('tbody tr[data-prompt="summarize"]');
  await page.waitForFunction(() => /v3/.test(document.querySelector('tr[data-prompt="summarize"] th')?.textContent ?? ''));
  assert.match(await row.innerText(), /gpt-4o-mini/);
  assert.deepEqual(pageErrors, []);
});
