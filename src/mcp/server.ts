/**
 * `banger mcp`: an MCP server over stdio (the official SDK) whose tools are tools.ts's table, run
 * against bangerd through the banger SDK. Stdout belongs to the protocol: nothing else writes there.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { ConnectionOpts } from '../sdk/index.js';
import { runTool, TOOLS } from './tools.js';

export function createMcpServer(conn: ConnectionOpts, version: string): McpServer {
  const server = new McpServer({ name: 'banger', version });
  for (const def of TOOLS) {
    server.registerTool(
      def.name,
      { description: def.description, inputSchema: def.input as never, annotations: { readOnlyHint: def.readOnly ?? false } },
      (async (args: unknown) => runTool(def, args, conn)) as never,
    );
  }
  return server;
}

/** Serves on stdin/stdout until the client closes them. */
export async function serveStdio(conn: ConnectionOpts, version: string): Promise<void> {
  const server = createMcpServer(conn, version);
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => (transport.onclose = resolve));
  await server.connect(transport);
  await closed;
}
