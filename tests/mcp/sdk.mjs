// Re-exports the npm tools installed here, so scripts outside this directory
// (bench/mcp) can use them without a node_modules of their own.
export { Client } from '@modelcontextprotocol/sdk/client/index.js';
export { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
export { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
export { encode as encodeO200k } from 'gpt-tokenizer/encoding/o200k_base';
