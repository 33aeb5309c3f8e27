// Test upstream over HTTP: `node http-server.mjs PORT [--stateless] [--name X] [--exit-with-stdin]` on 127.0.0.1
// (PORT 0 = any free port). Prints `LISTENING <port>` on stdout once it accepts connections. With --exit-with-stdin it
// stops when its stdin reaches end-of-file: a test process holds the other end, so a killed test leaves no server behind.
//   /mcp                 Streamable HTTP; sessions (Mcp-Session-Id) by default, a fresh server per request with --stateless
//   GET /sse, POST /messages?sessionId=   the legacy HTTP+SSE transport (2024-11-05)
//   POST /admin/mutable  text body = the mutable tool's new description; connected sessions get tools/list_changed
//   GET /admin/headers   the headers of the last POST to /mcp or /messages (what a gateway forwarded)
//   GET /admin/stats     { sessions, methods: { "tools/call": n, ... } }: JSON-RPC requests received, by method
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { createTestServer, DEFAULT_MUTABLE_DESCRIPTION, option } from './fixture.mjs';

const MAX_BODY_BYTES = 16 * 1024 * 1024;

const port = Number(process.argv[2] ?? 0);
const stateless = process.argv.includes('--stateless');
const label = option(process.argv, '--name');

let mutableDescription = DEFAULT_MUTABLE_DESCRIPTION;
let lastHeaders = {};
const methods = {};
/** Live sessions (Streamable HTTP and SSE) by session id: { server, transport }. */
const sessions = new Map();

function newServer() {
  return createTestServer({ name: label ?? 'http-test-server', label, mutableDescription: () => mutableDescription }).server;
}

function sendJson(res, status, value) {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
}

function jsonRpcError(res, status, code, message) {
  sendJson(res, status, { jsonrpc: '2.0', error: { code, message }, id: null });
}

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new Error(`body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads a JSON-RPC POST body and records its headers and methods; answers the error itself and returns undefined. */
async function readMessage(req, res) {
  lastHeaders = req.headers;
  let body;
  try {
    body = JSON.parse(await readBody(req));
  } catch (error) {
    jsonRpcError(res, 400, -32700, `Parse error: ${error.message}`);
    return undefined;
  }
  for (const message of Array.isArray(body) ? body : [body]) {
    if (message && typeof message.method === 'string' && message.id !== undefined)
      methods[message.method] = (methods[message.method] ?? 0) + 1;
  }
  return body;
}

async function handleMcp(req, res) {
  const body = req.method === 'POST' ? await readMessage(req, res) : undefined;
  if (req.method === 'POST' && body === undefined) return;

  if (stateless) {
    // The SDK's stateless transport serves one request; so does the server bound to it.
    const server = newServer();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => {
      transport.close();
      server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
    return;
  }

  const sessionId = req.headers['mcp-session-id'];
  const existing = typeof sessionId === 'string' ? sessions.get(sessionId) : undefined;
  if (existing) {
    if (!(existing.transport instanceof StreamableHTTPServerTransport)) {
      jsonRpcError(res, 400, -32000, 'Bad Request: the session belongs to the SSE transport');
      return;
    }
    await existing.transport.handleRequest(req, res, body);
    return;
  }
  if (sessionId !== undefined) {
    jsonRpcError(res, 404, -32001, 'Session not found');
    return;
  }
  if (req.method !== 'POST' || !isInitializeRequest(body)) {
    jsonRpcError(res, 400, -32000, 'Bad Request: no valid session ID provided');
    return;
  }
  const server = newServer();
  const transport = new StreamableHTTPServerTransport({
    sessionIdGenerator: () => randomUUID(),
    onsessioninitialized: (id) => sessions.set(id, { server, transport }),
  });
  transport.onclose = () => {
    if (transport.sessionId) sessions.delete(transport.sessionId);
  };
  await server.connect(transport);
  await transport.handleRequest(req, res, body);
}

async function handleSse(req, res) {
  lastHeaders = req.headers;
  const server = newServer();
  const transport = new SSEServerTransport('/messages', res);
  sessions.set(transport.sessionId, { server, transport });
  res.on('close', () => {
    sessions.delete(transport.sessionId);
    server.close();
  });
  await server.connect(transport);
}

async function handleSseMessage(req, res, url) {
  const entry = sessions.get(url.searchParams.get('sessionId') ?? '');
  if (!entry || !(entry.transport instanceof SSEServerTransport)) {
    jsonRpcError(res, 404, -32001, 'Session not found');
    return;
  }
  const body = await readMessage(req, res);
  if (body === undefined) return;
  await entry.transport.handlePostMessage(req, res, body);
}

async function handleAdmin(req, res, path) {
  if (path === '/admin/mutable' && req.method === 'POST') {
    mutableDescription = (await readBody(req)).trim() || DEFAULT_MUTABLE_DESCRIPTION;
    // The SDK sends notifications/tools/list_changed on each session's standalone stream (GET /mcp or /sse).
    for (const { server } of sessions.values()) server.sendToolListChanged();
    sendJson(res, 200, { description: mutableDescription, notified: sessions.size });
  } else if (path === '/admin/headers' && req.method === 'GET') {
    sendJson(res, 200, lastHeaders);
  } else if (path === '/admin/stats' && req.method === 'GET') {
    sendJson(res, 200, { sessions: sessions.size, methods });
  } else {
    sendJson(res, 404, { error: `no admin route ${req.method} ${path}` });
  }
}

const httpServer = createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  try {
    if (url.pathname === '/mcp') await handleMcp(req, res);
    else if (url.pathname === '/sse' && req.method === 'GET') await handleSse(req, res);
    else if (url.pathname === '/messages' && req.method === 'POST') await handleSseMessage(req, res, url);
    else if (url.pathname.startsWith('/admin/')) await handleAdmin(req, res, url.pathname);
    else sendJson(res, 404, { error: `no route ${req.method} ${url.pathname}` });
  } catch (error) {
    console.error(`http-test-server: ${req.method} ${url.pathname} failed: ${error.stack ?? error}`);
    if (!res.headersSent) jsonRpcError(res, 500, -32603, `Internal error: ${error.message}`);
    else res.end();
  }
});

httpServer.listen(port, '127.0.0.1', () => {
  console.log(`LISTENING ${httpServer.address().port}`);
});

function shutdown() {
  for (const { transport } of sessions.values()) transport.close();
  httpServer.closeAllConnections();
  httpServer.close(() => process.exit(0));
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
if (process.argv.includes('--exit-with-stdin')) {
  process.stdin.on('end', shutdown);
  process.stdin.resume();
}
