// Writes docs/protocol-vectors.json: canonical JSON cases, a signed advert and a signed task
// offer made with fixed Ed25519 keys, so another implementation can check its encoding and
// signatures byte for byte. Ed25519 signatures are deterministic: a rerun gives the same file.
//   node scripts/protocol-vectors.ts && npx biome format --write docs/protocol-vectors.json
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  ADVERT_SIGNING_DOMAIN,
  type AdvertBody,
  blockHash,
  canonicalJson,
  ExecutorFrame,
  LEDGER_BLOCK_SIGNING_DOMAIN,
  makeAgreement,
  makeProposal,
  signBlock,
  signingBytes,
  TASK_OFFER_SIGNING_DOMAIN,
  type TaskOfferBody,
  TaskSpec,
} from '@edgecoder/protocol'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'

const seed = (byte: number) => new Uint8Array(32).fill(byte)
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const b64url = (b: Uint8Array) => Buffer.from(b).toString('base64url')

const CANONICAL = [
  { b: 1, a: [3, 'x', null, true], c: { z: 0.5, y: -2 } },
  { é: 'ü', e: 'line\nbreak "quoted"', E: 1e21, n: 1e-7 },
  { nested: [{ b: 2, a: 1 }, []], empty: {} },
  // Keys sort by UTF-16 code units: the astral (surrogate pair) key before U+FFFF, not after.
  // Only control characters are escaped; U+2028, DEL and <>& are written as themselves.
  // Numbers are doubles written as ECMAScript does, beyond 2^53 too, and 0.000001 not as 1e-6.
  {
    '\u{1F600}': 'astral',
    '\uFFFF': 'bmp',
    ctl: '\u0001\u001f\u007f\u2028<>&\t',
    big: 12345678901234567000,
    tiny: 0.000001,
    small: -1.5e-9,
    whole: 100,
  },
]

async function main() {
  const submitterKey = await generateKeyPairFromSeed('Ed25519', seed(1))
  const executorKey = await generateKeyPairFromSeed('Ed25519', seed(2))
  const submitter = peerIdFromPrivateKey(submitterKey).toString()
  const executor = peerIdFromPrivateKey(executorKey).toString()
  const timestamp = 1_767_225_600_000

  const advert: AdvertBody = {
    v: 1,
    peerId: submitter,
    region: 'eu-west',
    roles: ['coordinator', 'worker'],
    models: [
      {
        name: 'gemma-3-270m-Q4_K_M',
        family: 'gemma3',
        parameters: '270M',
        quantization: 'Q4_K_M',
        contextLength: 4096,
      },
    ],
    provider: 'embedded',
    slots: { total: 2, free: 1 },
    queueDepth: 0,
    load: 0.25,
    power: 'active',
    version: '0.1.0',
    addrs: [`/ip4/192.0.2.1/tcp/4001/p2p/${submitter}`],
    intervalMs: 10_000,
    seq: 7,
    timestamp,
  }
  const offer: TaskOfferBody = {
    v: 1,
    taskId: 'task-0001',
    attempt: 1,
    origin: submitter,
    executor,
    spec: TaskSpec.parse({
      kind: 'chat',
      messages: [{ role: 'user', content: 'Say hello.' }],
      maxTokens: 16,
      submitter: 'ide',
      priority: 'high',
    }),
    heartbeatMs: 2000,
    nonce: 'AAAAAAAAAAAAAAAAAAAAAA',
    issuedAt: timestamp,
    expiresAt: timestamp + 30_000,
  }

  const embedOffer: TaskOfferBody = {
    ...offer,
    taskId: 'task-0002',
    spec: TaskSpec.parse({
      kind: 'embed',
      model: 'gemma-3-270m-Q4_K_M',
      inputs: ['hello', 'def add(a, b):'],
      submitter: 'ide',
      priority: 'high',
    }),
    nonce: 'AQEBAQEBAQEBAQEBAQEBAQ',
  }
  // What the executor answers an embed with: one vector per input, in order; not signed.
  const embedResult = ExecutorFrame.parse({
    type: 'result',
    taskId: embedOffer.taskId,
    attempt: 1,
    status: 'succeeded',
    result: {
      code: null,
      report: null,
      attempts: [],
      plan: null,
      text: null,
      finishReason: null,
      model: 'gemma-3-270m-Q4_K_M',
      tokens: { prompt: 9, completion: 0 },
      durations: { queuedMs: 1, runMs: 20, modelMs: 19, sandboxMs: 0 },
      embeddings: [
        [0.25, -0.5, 0.125],
        [-1, 0.0625, 2],
      ],
    },
    error: null,
  })

  const signed = async (domain: string, body: unknown, key: typeof submitterKey) => {
    const bytes = signingBytes(domain, body)
    return { domain, body, signingBytesHex: hex(bytes), sig: b64url(await key.sign(bytes)) }
  }
  // A claim and its agreement: the executor proposes that the submitter pay it for the offer
  // above; the submitter agrees in its own chain. Both are each chain's first block.
  const unsignedClaim = makeProposal(
    executor,
    null,
    {
      type: 'transfer',
      from: submitter,
      to: executor,
      credits: 1,
      memo: 'chat task-0001',
      nonce: 'BBBBBBBBBBBBBBBBBBBBBB',
      ref: {
        kind: 'chat',
        id: 'task-0001',
        attempt: 1,
        usage: { tokens: 12, cpuMs: 0 },
        quote: { perKTokens: 10, perCpuSecond: 1, max: 1 },
      },
    },
    timestamp + 5_000,
  )
  const claim = await signBlock(unsignedClaim, executorKey)
  const agreement = await signBlock(makeAgreement(submitter, null, claim, timestamp + 5_200), submitterKey)
  const vectors = {
    description:
      'EdgeCoder protocol test vectors: see docs/protocol.md. Keys are Ed25519 from 32-byte seeds (all bytes 0x01, all bytes 0x02).',
    keys: {
      submitter: { seedHex: hex(seed(1)), publicKeyHex: hex(submitterKey.publicKey.raw), peerId: submitter },
      executor: { seedHex: hex(seed(2)), publicKeyHex: hex(executorKey.publicKey.raw), peerId: executor },
    },
    canonicalJson: CANONICAL.map((input) => ({ input, output: canonicalJson(input) })),
    advert: await signed(ADVERT_SIGNING_DOMAIN, advert, submitterKey),
    taskOffer: await signed(TASK_OFFER_SIGNING_DOMAIN, offer, submitterKey),
    ledger: {
      domain: LEDGER_BLOCK_SIGNING_DOMAIN,
      proposal: {
        block: claim,
        signingBytesHex: hex(signingBytes(LEDGER_BLOCK_SIGNING_DOMAIN, unsignedClaim)),
        hash: blockHash(claim),
      },
      agreement: { block: agreement, hash: blockHash(agreement) },
    },
    embedOffer: await signed(TASK_OFFER_SIGNING_DOMAIN, embedOffer, submitterKey),
    embedResultFrame: embedResult,
  }
  writeFileSync(
    join(import.meta.dirname, '../docs/protocol-vectors.json'),
    `${JSON.stringify(vectors, null, 2)}\n`,
  )
}

await main()
