// What every client script shares: its settings from the environment, the scenario from the command line, one JSON
// line on stdout as the answer. The C# tests (tests/AgenticGateway.Tests/Clients) run the scripts and assert on it.
//   GATEWAY_URL    the gateway's root, e.g. http://127.0.0.1:5000 (the scripts add /v1 the way users configure it)
//   GATEWAY_KEY    the virtual key or master key sent as the bearer token
//   GATEWAY_MODEL  the gateway model name the request names
// On failure the line is {"error":{"name","message","status","body"}} and the exit code 1, so a test failing on the
// gateway's answer shows the HTTP status and body the client saw rather than a stack trace.

export const WEATHER_TOOL_NAME = 'get_weather';
export const WEATHER_PARAMETERS = {
  type: 'object',
  properties: { city: { type: 'string', description: 'The city' } },
  required: ['city'],
  additionalProperties: false,
};
export const WEATHER_RESULT = '22 C and sunny';

/** The user turn that makes the emulator's model call get_weather for Paris (its mock_tool_call directive). */
export const WEATHER_PROMPT =
  'What is the weather in Paris?\nmock_tool_call: {"name": "get_weather", "arguments": {"city": "Paris"}}';

export function settings() {
  const read = (name) => {
    const value = process.env[name];
    if (!value) throw new Error(`${name} is not set`);
    return value;
  };
  const url = read('GATEWAY_URL').replace(/\/+$/, '');
  return { baseURL: `${url}/v1`, apiKey: read('GATEWAY_KEY'), model: read('GATEWAY_MODEL') };
}

/** Runs the scenario named by the first argument and prints its result as one JSON line. */
export async function main(scenarios) {
  const name = process.argv[2];
  const scenario = scenarios[name];
  try {
    if (!scenario) throw new Error(`unknown scenario "${name}"; one of: ${Object.keys(scenarios).join(', ')}`);
    const result = await scenario(settings());
    process.stdout.write(JSON.stringify(result) + '\n');
    process.exitCode = 0;
  } catch (error) {
    process.stdout.write(JSON.stringify({ error: describe(error) }) + '\n');
    process.exitCode = 1;
  }
}

function describe(error) {
  // The SDKs' HTTP errors carry the status and the parsed body under different names: openai (status, error),
  // the AI SDK (statusCode, responseBody), LangChain (wraps the openai error, which it keeps as its cause or itself).
  const status = error?.status ?? error?.statusCode ?? error?.cause?.status ?? null;
  const body = error?.error ?? error?.responseBody ?? error?.cause?.error ?? null;
  return {
    name: error?.name ?? typeof error,
    message: String(error?.message ?? error),
    status,
    body: typeof body === 'string' ? body : body ?? null,
    stack: error?.stack ? String(error.stack).split('\n').slice(0, 6).join('\n') : null,
  };
}

/** The output items reduced to what the tests assert on. */
export function items(output) {
  return (output ?? []).map((item) => ({
    type: item.type,
    id: item.id ?? null,
    status: item.status ?? null,
    role: item.role ?? null,
    content: Array.isArray(item.content) ? item.content.map((part) => ({ type: part.type, text: part.text ?? null })) : null,
    call_id: item.call_id ?? null,
    name: item.name ?? null,
    arguments: item.arguments ?? null,
  }));
}
