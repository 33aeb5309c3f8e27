// One MCP request through the official TypeScript SDK's Client, for tests written in C#:
//   node client.mjs --url URL [--transport http|sse] [--header 'K: V']... [--timeout MS] <command> [args]
// Commands: info | list-tools | call <name> <json-args> | list-resources | read-resource <uri> | list-prompts |
//           get-prompt <name> <json-args>
// Prints the result as one JSON line on stdout and exits 0; on failure prints {"error":{"code","message"[,"data"]}}
// and exits 1 (a JSON-RPC error keeps its code; a transport error has code null).
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';

const USAGE = 'usage: node client.mjs --url URL [--transport http|sse] [--header "K: V"]... [--timeout MS] ' +
  '<info|list-tools|call NAME JSON|list-resources|read-resource URI|list-prompts|get-prompt NAME JSON>';

function parseArgs(argv) {
  const options = { transport: 'http', headers: {}, timeout: 30_000, rest: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === '--url') options.url = value();
    else if (arg === '--transport') options.transport = value();
    else if (arg === '--timeout') options.timeout = Number(value());
    else if (arg === '--header') {
      const header = value();
      const colon = header.indexOf(':');
      if (colon <= 0) throw new Error(`--header needs "Name: value", got "${header}"`);
      options.headers[header.slice(0, colon).trim()] = header.slice(colon + 1).trim();
    } else options.rest.push(arg);
  }
  if (!options.url) throw new Error('--url is required');
  if (!['http', 'sse'].includes(options.transport)) throw new Error(`--transport must be http or sse, got ${options.transport}`);
  if (!(options.timeout > 0)) throw new Error('--timeout must be a positive number of milliseconds');
  if (options.rest.length === 0) throw new Error('a command is required');
  return options;
}

function jsonArgument(text, what) {
  if (text === undefined) return {};
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${what} is not JSON: ${error.message}`);
  }
}

async function run(client, transport, [command, ...args], requestOptions) {
  switch (command) {
    case 'info':
      return {
        serverInfo: client.getServerVersion(),
        capabilities: client.getServerCapabilities(),
        instructions: client.getInstructions(),
        protocolVersion: transport.protocolVersion,
        sessionId: transport.sessionId,
      };
    case 'list-tools':
      return client.listTools(undefined, requestOptions);
    case 'call':
      return client.callTool({ name: args[0], arguments: jsonArgument(args[1], 'the tool arguments') }, undefined, requestOptions);
    case 'list-resources':
      return client.listResources(undefined, requestOptions);
    case 'read-resource':
      return client.readResource({ uri: args[0] }, requestOptions);
    case 'list-prompts':
      return client.listPrompts(undefined, requestOptions);
    case 'get-prompt':
      return client.getPrompt({ name: args[0], arguments: jsonArgument(args[1], 'the prompt arguments') }, requestOptions);
    default:
      throw new Error(`unknown command ${command}; ${USAGE}`);
  }
}

function errorJson(error) {
  const code = typeof error?.code === 'number' ? error.code : null;
  const out = { code, message: String(error?.message ?? error) };
  if (error?.data !== undefined) out.data = error.data;
  return { error: out };
}

let client;
let transport;
let exitCode = 0;
try {
  const options = parseArgs(process.argv.slice(2));
  const url = new URL(options.url);
  const requestInit = { headers: options.headers };
  transport = options.transport === 'sse'
    ? new SSEClientTransport(url, { requestInit })
    : new StreamableHTTPClientTransport(url, { requestInit });
  client = new Client({ name: 'agw-test-ts-client', version: '1.0.0' });
  const requestOptions = { timeout: options.timeout };
  await client.connect(transport, requestOptions);
  const result = await run(client, transport, options.rest, requestOptions);
  process.stdout.write(JSON.stringify(result) + '\n');
} catch (error) {
  process.stdout.write(JSON.stringify(errorJson(error)) + '\n');
  exitCode = 1;
} finally {
  // Ends a Streamable HTTP session with DELETE, as a well-behaved client does; a failure to end or close it changes
  // nothing in the answer already printed.
  if (transport instanceof StreamableHTTPClientTransport && transport.sessionId)
    await transport.terminateSession().catch(() => {});
  await client?.close().catch(() => {});
}
process.exit(exitCode);
