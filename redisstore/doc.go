// Package redisstore adapts Redis (github.com/redis/go-redis/v9) to the
// bridge's shared state, so many instances act as one: the exchange limits
// (GCRA from github.com/go-redis/redis_rate/v10), the memory of accepted
// audit events, and the durable lifecycle queue (a Redis Stream with a
// consumer group). It is optional: without REDIS_URL each instance keeps
// this state to itself.
//
// Nothing secret is stored: no session JWT, custom token, key or webhook
// secret. Keys are SHA-256 prefixes of client addresses and user IDs, or
// the hashes of audit events; queue entries carry Descope user IDs and the
// login IDs an audit event named.
package redisstore
