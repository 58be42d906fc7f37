// Password authentication primitives: SCRAM-SHA-256 (client and server side) and MD5.
export * from './scram.js';
export * from './md5.js';
