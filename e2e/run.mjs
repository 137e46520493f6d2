// Shared by the SDK scripts: runs the case named by the first argument
// against SLUICE_E2E_BASE_URL with SLUICE_E2E_API_KEY and prints its outcome
// as one JSON line on stdout:
//
//   {"ok":true,"result":...}             what the SDK returned
//   {"ok":false,"error":{"sdk":true,...}} an error the SDK raised as its own type
//
// Any other failure (a bug in the script, an error the SDK did not wrap)
// exits non-zero with its stack on stderr.

function required(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`${name} is not set`);
    process.exit(2);
  }
  return v;
}

// headersObject turns a fetch Headers object into a plain object with
// lower-case names.
export function headersObject(h) {
  if (!h || typeof h.entries !== 'function') return {};
  return Object.fromEntries(h.entries());
}

// run calls cases[argv[2]]({baseURL, apiKey}); describeError returns the
// JSON shape of an error the SDK raised as its own type, or null for any
// other error.
export async function run(cases, describeError) {
  const name = process.argv[2];
  const fn = cases[name];
  if (!fn) {
    console.error(`unknown case ${JSON.stringify(name)}; known: ${Object.keys(cases).join(', ')}`);
    process.exit(2);
  }
  const env = {
    baseURL: required('SLUICE_E2E_BASE_URL'),
    apiKey: required('SLUICE_E2E_API_KEY'),
  };
  let outcome;
  try {
    outcome = { ok: true, result: await fn(env) };
  } catch (err) {
    const e = describeError(err);
    if (!e) throw err;
    outcome = { ok: false, error: e };
  }
  process.stdout.write(JSON.stringify(outcome) + '\n');
}
