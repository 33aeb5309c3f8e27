// Test upstream on the stdio transport: `node stdio-server.mjs [--name X]`.
// Env: MCP_TEST_SECRET (returned by whoami), MCP_MUTABLE_FILE (the mutable tool's description, re-read on every
// tools/list, so rewriting the file changes the definition silently, as a "rug pull" would).
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { createTestServer, mutableDescriptionFromFile, option } from './fixture.mjs';

const label = option(process.argv, '--name');
const { server } = createTestServer({
  name: label ?? 'stdio-test-server',
  label,
  mutableDescription: mutableDescriptionFromFile,
});
await server.connect(new StdioServerTransport());
// stdout is the protocol channel; the gateway is expected to read this line from stderr into its log.
console.error(`stdio-test-server${label ? ` ${label}` : ""} started (pid ${process.pid})`);
