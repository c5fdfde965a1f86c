// What other folders use of the CLI: its HTTP client for the local API.
export { ClientError, clientOptions, request } from './client.ts'
