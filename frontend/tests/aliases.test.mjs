// Browser end-to-end test of the Aliases page: Debian's Chromium, driven by
// playwright-core, against a running `sluice serve`. It makes an alias
// with fallbacks and an over-soft target, sees the gateway refuse a typo
// and a loop with its own words, edits the alias and removes another.
//
// Environment (set by e2e/aliases_test.go):
//   SLUICE_URL    the one-time sign-in link
// Optional: SLUICE_SCREENSHOTS, CHROMIUM (see browser.mjs)

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { launch, needs, shotsDir } from './browser.mjs';

const url = process.env.SLUICE_URL;
const skip = needs('SLUICE_URL');

let page;
let close;
let pageErrors = [];

before(async () => {
  if (skip) return;
  ({ page, pageErrors, close } = await launch('aliases'));
  await page.goto(url);
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
});

after(() => close?.());

function table() {
  return page.getByRole('table', { name: 'Aliases' });
}

async function newAlias(fields) {
  await page.getByRole('button', { name: 'New alias' }).click();
  const dlg = page.getByRole('dialog', { name: 'New alias' });
  await dlg.getByLabel('Name').fill(fields.name);
  await dlg.getByLabel('Target').fill(fields.target);
  if (fields.fallbacks) await dlg.getByLabel('Fallbacks').fill(fields.fallbacks);
  if (fields.overSoft) await dlg.getByLabel('Past a soft threshold').fill(fields.overSoft);
  await dlg.getByRole('button', { name: 'Create alias' }).click();
  return dlg;
}

test('the page says what an alias is, and starts empty', { skip }, async () => {
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Aliases', exact: true }).click();
  await page.getByRole('heading', { name: 'Aliases', level: 1 }).waitFor();
  await page.getByText('No aliases yet').waitFor();
  assert.match(await page.locator('.lead').innerText(), /fallbacks in order/);
});

test('an alias with fallbacks and an over-soft target is saved and listed', { skip }, async () => {
  const dlg = await newAlias({
    name: 'claude-haiku-4-5-20251001',
    target: 'openai/gpt-5-mini',
    fallbacks: 'deepseek-chat, anthropic/claude-haiku-4-5-20251001',
    overSoft: 'gpt-5-nano',
  });
  await dlg.waitFor({ state: 'detached' });
  const row = table().locator('tbody tr[data-alias="claude-haiku-4-5-20251001"]');
  await row.waitFor();
  const text = await row.innerText();
  assert.match(text, /openai\/gpt-5-mini/);
  assert.match(text, /deepseek-chat → anthropic\/claude-haiku-4-5-20251001/);
  assert.match(text, /gpt-5-nano/);
  // No DeepSeek key in this gateway: the list says requests skip that target.
  assert.match(text, /no deepseek key: requests with a Sluice token skip deepseek\/deepseek-chat/);
});

test('the gateway refuses a target it cannot reach and a loop, in the dialog', { skip }, async () => {
  let dlg = await newAlias({ name: 'fast', target: 'gtp-5-mini' });
  await dlg.getByRole('alert').getByText('write it as provider/model').waitFor();
  await dlg.getByRole('button', { name: 'Cancel' }).click();

  // provider/model always reaches that provider's model: not a name.
  dlg = await newAlias({ name: 'openai/gpt-4.1', target: 'anthropic/claude-haiku-4-5' });
  await dlg.getByRole('alert').getByText('names provider openai').waitFor();
  await dlg.getByRole('button', { name: 'Cancel' }).click();

  dlg = await newAlias({ name: 'bg', target: 'claude-haiku-4-5-20251001' });
  await dlg.waitFor({ state: 'detached' });
  await table().locator('tbody tr[data-alias="bg"]').waitFor();

  // A name that differs from bg's only in case: the store's refusal, with
  // the page's own words for what to do, never the CLI's.
  dlg = await newAlias({ name: 'BG', target: 'openai/gpt-5' });
  const clash = await dlg.getByRole('alert').getByText('alias bg exists, and BG is the same name in other letters').innerText();
  assert.match(clash, /Edit “bg” in the list, or use its Remove button\./);
  assert.doesNotMatch(clash, /sluice alias/);
  await dlg.getByRole('button', { name: 'Cancel' }).click();

  // Pointing the first alias back at bg would loop.
  await page.getByRole('button', { name: 'Edit claude-haiku-4-5-20251001' }).click();
  const edit = page.getByRole('dialog', { name: 'Edit alias “claude-haiku-4-5-20251001”' });
  assert.equal(await edit.getByLabel('Name').getAttribute('readonly'), '');
  await edit.getByLabel('Target').fill('bg');
  await edit.getByRole('button', { name: 'Save alias' }).click();
  await edit.getByRole('alert').getByText('aliases would loop: claude-haiku-4-5-20251001 → bg → claude-haiku-4-5-20251001').waitFor();
  // A real change saves.
  await edit.getByLabel('Target').fill('openai/gpt-5');
  await edit.getByLabel('Fallbacks').fill('');
  await edit.getByRole('button', { name: 'Save alias' }).click();
  await edit.waitFor({ state: 'detached' });
  const row = table().locator('tbody tr[data-alias="claude-haiku-4-5-20251001"]');
  await page.waitForFunction(() => document.querySelector('tr[data-alias="claude-haiku-4-5-20251001"] td')?.textContent === 'openai/gpt-5');
  assert.match(await row.innerText(), /None/);
  await page.screenshot({ path: path.join(shotsDir, 'aliases.png'), fullPage: true });
});

test('an alias is removed after a confirmation', { skip }, async () => {
  await page.getByRole('button', { name: 'Remove bg' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Remove alias' }).click();
  await table().locator('tbody tr[data-alias="bg"]').waitFor({ state: 'detached' });
  assert.equal(await table().locator('tbody tr').count(), 1);
});

test('the Connect page runs Claude Code on another model through an alias', { skip }, async () => {
  await page.getByRole('link', { name: 'Connect', exact: true }).first().click();
  await page.getByRole('heading', { name: 'Connect your tools', level: 1 }).waitFor();
  const card = page.getByRole('article', { name: 'Claude Code' });
  const form = card.getByRole('form', { name: 'Run Claude Code on another model' });
  await form.getByLabel('Run Claude Code on another model').fill('gtp-5-mini');
  await form.getByRole('button', { name: 'Use this model' }).click();
  await page.getByText('write it as provider/model').first().waitFor();
  await form.getByLabel('Run Claude Code on another model').fill('openai/gpt-5-mini');
  await form.getByRole('button', { name: 'Use this model' }).click();
  await card.getByText("export ANTHROPIC_MODEL='claude-code'").waitFor();
  const text = await card.locator('pre').innerText();
  for (const want of ["export ANTHROPIC_DEFAULT_HAIKU_MODEL='claude-code'", "export ANTHROPIC_DEFAULT_OPUS_MODEL='claude-code'", 'CLAUDE_CODE_MAX_CONTEXT_TOKENS', 'an alias Sluice sends to openai/gpt-5-mini']) {
    assert.ok(text.includes(want), `the Claude Code card lacks ${want}:\n${text}`);
  }
  assert.match(await card.innerText(), /sluice connect claude-code --model openai\/gpt-5-mini --write/);
  // Its token is made into the same lines.
  await card.getByRole('button', { name: 'Make a token for Claude Code' }).click();
  await card.getByText(/export ANTHROPIC_AUTH_TOKEN='sk-sluice-/).waitFor();
  assert.match(await card.locator('pre').innerText(), /export ANTHROPIC_MODEL='claude-code'/);
  await page.screenshot({ path: path.join(shotsDir, 'connect-model.png'), fullPage: false });

  await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Aliases', exact: true }).click();
  const row = table().locator('tbody tr[data-alias="claude-code"]');
  await row.waitFor();
  assert.match(await row.innerText(), /openai\/gpt-5-mini/);
  assert.deepEqual(pageErrors, []);
});
