// Serves a supergraph with Apollo Gateway for the load benchmark:
// node apollo-gateway.mjs SUPERGRAPH_FILE PORT
import { readFileSync } from 'node:fs';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { ApolloGateway } from '@apollo/gateway';

const [supergraphPath, port] = process.argv.slice(2);
if (!supergraphPath || !port) {
  console.error('usage: node apollo-gateway.mjs SUPERGRAPH_FILE PORT');
  process.exit(2);
}
const gateway = new ApolloGateway({ supergraphSdl: readFileSync(supergraphPath, 'utf8') });
const server = new ApolloServer({ gateway, csrfPrevention: false, introspection: false });
const { url } = await startStandaloneServer(server, { listen: { host: '127.0.0.1', port: Number(port) } });
console.log(`apollo gateway on ${url}`);
