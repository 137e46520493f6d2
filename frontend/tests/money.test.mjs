// Unit tests of src/money.ts: exact decimal arithmetic on money strings.
// The module is compiled with the project's TypeScript into a temporary
// directory first, so the test runs on plain Node.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
let out;
let m;

before(async () => {
  out = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-money-'));
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '--ignoreConfig', path.join(root, 'src', 'money.ts'), '--outDir', out, '--module', 'esnext', '--target', 'es2022', '--lib', 'es2022,dom', '--skipLibCheck'], { stdio: 'inherit' });
  m = await import(pathToFileURL(path.join(out, 'money.js')).href);
});

after(() => {
  if (out) fs.rmSync(out, { recursive: true, force: true });
});

test('parsePico and picoString round-trip exact amounts', () => {
  const cases = [
    ['0', 0n, '0'],
    ['5', 5_000_000_000_000n, '5'],
    ['$1.50', 1_500_000_000_000n, '1.5'],
    ['0.000000000001', 1n, '0.000000000001'],
    ['0.000123', 123_000_000n, '0.000123'],
    ['-2.25', -2_250_000_000_000n, '-2.25'],
    ['12.340000000000', 12_340_000_000_000n, '12.34'],
  ];
  for (const [in_, pico, str] of cases) {
    assert.equal(m.parsePico(in_), pico, `parsePico(${in_})`);
    assert.equal(m.picoString(pico), str, `picoString(${pico})`);
  }
});

test('parsePico refuses what is not an amount, or finer than a picodollar', () => {
  for (const bad of ['', 'abc', '1e-6', '0.0000000000001', '1.2.3', '$', '.']) {
    assert.equal(m.parsePico(bad), null, `parsePico(${JSON.stringify(bad)})`);
  }
});

test('perMillion and fromPerMillion convert rates exactly', () => {
  const cases = [
    ['0.00000015', '0.15'],
    ['0.0000006', '0.6'],
    ['0.000015', '15'],
    ['0.00000000375', '0.00375'],
    ['0.000000000001', '0.000001'],
    ['0', '0'],
  ];
  for (const [perToken, perM] of cases) {
    assert.equal(m.perMillion(perToken), perM, `perMillion(${perToken})`);
    assert.equal(m.fromPerMillion(perM), perToken, `fromPerMillion(${perM})`);
  }
  assert.equal(m.fromPerMillion('0.0000001'), null, 'fromPerMillion(0.0000001): finer than a picodollar per token');
  assert.equal(m.fromPerMillion('x'), null, 'fromPerMillion(x)');
});

test('exactMoney shows every digit, at least cents', () => {
  const cases = [
    ['0', '$0.00'],
    ['5', '$5.00'],
    ['0.5', '$0.50'],
    ['0.00042585', '$0.00042585'],
    ['-1.2', '-$1.20'],
  ];
  for (const [in_, want] of cases) assert.equal(m.exactMoney(in_), want, `exactMoney(${in_})`);
});

test('normalizeMoney prepares user input for the API', () => {
  assert.equal(m.normalizeMoney(' $0.50 '), '0.5');
  assert.equal(m.normalizeMoney('0.000001'), '0.000001');
  assert.equal(m.normalizeMoney('five'), null);
});

test('formatMoney shows four significant digits under a cent, up to four decimals under $100, cents above', { skip: !new Intl.NumberFormat().resolvedOptions().locale.startsWith('en') && 'needs an English locale' }, () => {
  const cases = [
    ['0', '$0.00'],
    ['12.345', '$12.345'],
    ['0.011685', '$0.0117'],
    ['5', '$5.00'],
    ['0.01', '$0.01'],
    ['0.000123', '$0.000123'],
    ['0.0012345', '$0.001235'],
    ['1234.5', '$1,234.50'],
  ];
  for (const [in_, want] of cases) assert.equal(m.formatMoney(in_), want, `formatMoney(${in_})`);
});
