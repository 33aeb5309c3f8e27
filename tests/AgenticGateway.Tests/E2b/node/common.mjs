// What every E2B SDK script shares. The C# tests (tests/AgenticGateway.Tests/E2b) run a script with node and the
// SDK's own settings pointing at the gateway:
//   E2B_API_URL      http://127.0.0.1:PORT/e2b (the REST API)
//   E2B_SANDBOX_URL  the same (envd and the code interpreter, named by the E2b-Sandbox-Id/-Port headers)
//   E2B_API_KEY      a gateway key (sent as X-API-KEY)
// plus the script's own inputs (SANDBOX_ID, RUN_TAG, ...). The SDKs are used unchanged. The answer is one JSON line on
// stdout; a failure is {"error":{"name","message"}} with exit code 1, so a test shows what the SDK threw.

/** Runs the scenario and prints its result as one JSON line. */
export async function main(scenario) {
  try {
    const result = await scenario();
    process.stdout.write(JSON.stringify(result ?? null) + '\n');
    process.exitCode = 0;
  } catch (e) {
    process.stdout.write(JSON.stringify({ error: describe(e) }) + '\n');
    process.exitCode = 1;
  }
}

/** An error as the tests assert on it: the SDK's class name and message. */
export function describe(e) {
  return { name: e?.constructor?.name ?? e?.name ?? typeof e, message: String(e?.message ?? e) };
}

/** What a call returned, or what it threw: for scenarios that expect a refusal. */
export async function outcome(promise) {
  try {
    return { ok: (await promise) ?? null };
  } catch (e) {
    return { error: describe(e) };
  }
}

/** A required input from the environment. */
export function input(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}
