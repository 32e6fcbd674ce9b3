#!/usr/bin/env node
// A Condense client in Node.js: upload a model, submit a pipeline, follow the job, download the result.
//
// It uses @grpc/grpc-js and loads the API's .proto at run time with @grpc/proto-loader (protobufjs
// bundles google/protobuf/struct.proto, so nothing else is needed). Install its packages once with
// `npm ci` in this folder.
//
//   node condense_client.js --server 127.0.0.1:50051 --proto-dir ../../../proto/src/main/proto \
//       --model model.onnx --step prune sparsity=0.5 --step quantize bits=8 --output small.onnx
//
// On success it prints one line of JSON (job id, state, sizes, event kinds) and exits 0. It exits 1 when
// the job fails or is cancelled (the JSON line then carries the server's error), 2 on bad arguments, 3
// when a call fails (the gRPC status code and the server's message on stderr), and 4 when something it
// needs is not installed. `--check` only checks that the packages load and the .proto compiles.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');

const CHUNK_BYTES = 1024 * 1024;
const PROTO_FILE = 'condense/v1/compression_service.proto';
const FINAL_EVENTS = new Set(['completed', 'failed', 'cancelled']);
const EXIT_JOB_FAILED = 1;
const EXIT_USAGE = 2;
const EXIT_CALL_FAILED = 3;
const EXIT_MISSING = 4;

class Missing extends Error {}
class Usage extends Error {}

class CallFailed extends Error {
  constructor(method, error, grpc) {
    const code = Object.keys(grpc.status).find((name) => grpc.status[name] === error.code) || 'UNKNOWN';
    super(`${method} failed: ${code}: ${error.details || error.message}`);
    this.code = code;
  }
}

const USAGE = `usage: node condense_client.js --proto-dir DIR [--server HOST:PORT] --model MODEL.onnx
         --step TECHNIQUE [KEY=VALUE ...] [--step ...] --output OUT.onnx
         [--client-request-id ID] [--timeout SECONDS]
         [--tls-ca CA.pem [--tls-cert CERT.pem --tls-key KEY.pem]] [--token TOKEN (default: $CONDENSE_TOKEN)] | --check`;

function parseArguments(argv) {
  const options = { server: '127.0.0.1:50051', timeout: 300, steps: [], check: false, token: process.env.CONDENSE_TOKEN };
  for (let i = 0; i < argv.length; i++) {
    const argument = argv[i];
    const value = () => {
      if (i + 1 >= argv.length || argv[i + 1].startsWith('--')) {
        throw new Usage(`${argument} needs a value`);
      }
      return argv[++i];
    };
    switch (argument) {
      case '--server': options.server = value(); break;
      case '--proto-dir': options.protoDir = value(); break;
      case '--model': options.model = value(); break;
      case '--output': options.output = value(); break;
      case '--client-request-id': options.clientRequestId = value(); break;
      case '--timeout': options.timeout = Number(value()); break;
      case '--check': options.check = true; break;
      case '--tls-ca': options.tlsCa = value(); break;
      case '--tls-cert': options.tlsCert = value(); break;
      case '--tls-key': options.tlsKey = value(); break;
      case '--token': options.token = value(); break;
      case '--step': {
        const technique = value();
        const parameters = {};
        while (i + 1 < argv.length && !argv[i + 1].startsWith('--')) {
          const pair = argv[++i];
          const equals = pair.indexOf('=');
          if (equals <= 0) {
            throw new Usage(`parameter '${pair}' of step ${options.steps.length + 1} (${technique}) is not KEY=VALUE`);
          }
          parameters[pair.slice(0, equals)] = pair.slice(equals + 1);
        }
        options.steps.push({ technique, parameters });
        break;
      }
      case '--help': case '-h': console.log(USAGE); process.exit(0); break;
      default: throw new Usage(`unknown argument '${argument}'`);
    }
  }
  if (!options.protoDir) throw new Usage('--proto-dir is needed');
  if (Boolean(options.tlsCert) !== Boolean(options.tlsKey) || (options.tlsCert && !options.tlsCa)) {
    throw new Usage('--tls-cert and --tls-key go together, and need --tls-ca');
  }
  if (!(options.timeout > 0)) throw new Usage('--timeout must be a positive number of seconds');
  if (options.model && !fs.statSync(options.model, { throwIfNoEntry: false })?.isFile()) {
    throw new Usage(`no model file ${options.model} (from ${process.cwd()})`);
  }
  if (!options.check && !(options.model && options.steps.length > 0 && options.output)) {
    throw new Usage('--model, --step and --output are needed (or --check)');
  }
  return options;
}

function loadPackages() {
  try {
    return { grpc: require('@grpc/grpc-js'), protoLoader: require('@grpc/proto-loader') };
  } catch (error) {
    throw new Missing(`cannot load @grpc/grpc-js and @grpc/proto-loader (${error.message.split('\n')[0]}): `
      + `run 'npm ci' in ${__dirname}`);
  }
}

function loadService(grpc, protoLoader, protoDir) {
  if (!fs.existsSync(path.join(protoDir, PROTO_FILE))) {
    throw new Missing(`no ${PROTO_FILE} under --proto-dir ${protoDir}`);
  }
  // keepCase: the proto's field names (blob_id); int64 as Number (sizes stay far below 2^53);
  // enums as their names; oneofs: a virtual field naming the set member of each oneof.
  const definition = protoLoader.loadSync(PROTO_FILE, {
    includeDirs: [protoDir], keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true,
  });
  if (!definition['google.protobuf.Struct']) {
    throw new Missing('@grpc/proto-loader did not resolve google/protobuf/struct.proto');
  }
  return grpc.loadPackageDefinition(definition).condense.v1.CompressionService;
}

class CondenseClient {
  constructor(grpc, Service, server, timeoutSeconds, security = {}) {
    this.grpc = grpc;
    this.timeoutSeconds = timeoutSeconds;
    const credentials = security.tlsCa
      ? grpc.credentials.createSsl(fs.readFileSync(security.tlsCa), security.tlsKey ? fs.readFileSync(security.tlsKey) : null,
        security.tlsCert ? fs.readFileSync(security.tlsCert) : null)
      : grpc.credentials.createInsecure();
    const interceptors = [];
    if (security.token) {
      // the bearer token on every call, over TLS or plaintext (a server on loopback)
      interceptors.push((callOptions, nextCall) => new grpc.InterceptingCall(nextCall(callOptions), {
        start: (metadata, listener, next) => {
          metadata.set('authorization', `Bearer ${security.token}`);
          next(metadata, listener);
        },
      }));
    }
    this.stub = new Service(server, credentials, {
      'grpc.max_receive_message_length': 8 * CHUNK_BYTES,
      interceptors,
    });
  }

  options() {
    return { deadline: Date.now() + this.timeoutSeconds * 1000 };
  }

  fail(method, error) {
    return error && error.code !== undefined && error.details !== undefined
      ? new CallFailed(method, error, this.grpc) : error;
  }

  ready() {
    return new Promise((resolve, reject) => this.stub.waitForReady(this.options().deadline, (error) => (error
      ? reject(new CallFailed('connect', { code: this.grpc.status.UNAVAILABLE, details: `no server answered: ${error.message}` }, this.grpc))
      : resolve())));
  }

  upload(file) {
    return new Promise((resolve, reject) => {
      const call = this.stub.UploadModel(this.options(), (error, result) => (error ? reject(this.fail('UploadModel', error)) : resolve(result)));
      const input = fs.createReadStream(file, { highWaterMark: CHUNK_BYTES });
      input.on('data', (data) => {
        if (!call.write({ data })) {
          input.pause();
          call.once('drain', () => input.resume());
        }
      });
      input.on('end', () => call.end());
      input.on('error', (error) => {
        call.cancel();
        reject(error);
      });
    });
  }

  unary(method, request) {
    return new Promise((resolve, reject) => this.stub[method](request, this.options(),
      (error, response) => (error ? reject(this.fail(method, error)) : resolve(response))));
  }

  /** Every event of the job up to and including the final one. */
  watch(jobId) {
    return new Promise((resolve, reject) => {
      const events = [];
      let finished = false;
      const call = this.stub.WatchJob({ job_id: jobId }, this.options());
      call.on('data', (event) => {
        events.push(event);
        if (FINAL_EVENTS.has(event.event) && !finished) {
          finished = true;
          resolve(events);
          call.cancel();
        }
      });
      call.on('error', (error) => {
        if (!finished) reject(this.fail('WatchJob', error));
      });
      call.on('end', () => {
        if (!finished) reject(new Error(`WatchJob of ${jobId} ended before the job did`));
      });
    });
  }

  /** Streams the job's result into output (through a temporary file, then a rename); answers its size and SHA-256. */
  download(jobId, output) {
    return new Promise((resolve, reject) => {
      const partial = path.join(path.dirname(path.resolve(output)), `.download-${process.pid}-${Date.now()}`);
      const file = fs.createWriteStream(partial);
      const digest = crypto.createHash('sha256');
      let size = 0;
      let total;
      const failed = (error) => {
        file.destroy();
        fs.rm(partial, { force: true }, () => reject(this.fail('Download', error)));
      };
      const call = this.stub.Download({ job_id: jobId }, this.options());
      call.on('data', (chunk) => {
        if (total === undefined) total = chunk.total_size;
        digest.update(chunk.data);
        size += chunk.data.length;
        if (!file.write(chunk.data)) {
          call.pause();
          file.once('drain', () => call.resume());
        }
      });
      call.on('error', failed);
      call.on('end', () => file.end());
      file.on('error', failed);
      file.on('finish', () => {
        if (total !== undefined && total !== size) {
          failed(new Error(`Download of job ${jobId} ended after ${size} of ${total} bytes`));
          return;
        }
        fs.rename(partial, output, (error) => (error ? failed(error) : resolve({ size, sha256: digest.digest('hex') })));
      });
    });
  }

  close() {
    this.stub.close();
  }
}

function eventKind(event) {
  const kind = event.event || 'unknown';
  if (kind === 'step_completed') return `STEP_COMPLETED ${event.step_completed.result.step}`;
  if (kind === 'step_started' || kind === 'step_retry' || kind === 'progress') return `${kind.toUpperCase()} ${event[kind].step}`;
  return kind.toUpperCase();
}

async function run(options) {
  const { grpc, protoLoader } = loadPackages();
  const Service = loadService(grpc, protoLoader, options.protoDir);
  if (options.check) {
    console.log(JSON.stringify({ client: 'node', check: 'ok', grpc: require('@grpc/grpc-js/package.json').version }));
    return 0;
  }
  const client = new CondenseClient(grpc, Service, options.server, options.timeout,
    { tlsCa: options.tlsCa, tlsCert: options.tlsCert, tlsKey: options.tlsKey, token: options.token });
  try {
    await client.ready();
    const started = process.hrtime.bigint();
    const uploaded = await client.upload(options.model);
    const submitted = await client.unary('Submit', {
      model_id: uploaded.blob_id,
      steps: options.steps,
      client_request_id: options.clientRequestId || crypto.randomUUID(),
    });
    const events = await client.watch(submitted.job_id);
    const job = await client.unary('GetJob', { job_id: submitted.job_id });
    const summary = {
      client: 'node',
      job_id: submitted.job_id,
      state: job.state,
      model_id: uploaded.blob_id,
      input_bytes: uploaded.size,
      steps: options.steps.map((step) => step.technique),
      events: events.filter((event) => event.event !== 'progress').map(eventKind),
    };
    if (job.state !== 'JOB_STATE_COMPLETED') {
      if (job.error) {
        summary.error = { step: job.error.step, technique: job.error.technique, code: job.error.code, message: job.error.message };
      }
      console.log(JSON.stringify(summary));
      console.error(`Job ${submitted.job_id} ended ${job.state}: ${summary.error ? summary.error.message : 'no error given'}`);
      return EXIT_JOB_FAILED;
    }
    const { size, sha256 } = await client.download(submitted.job_id, options.output);
    if (sha256 !== job.result_model_id) {
      throw new Error(`the downloaded bytes hash to ${sha256}, the job's result is ${job.result_model_id}`);
    }
    Object.assign(summary, {
      result_model_id: job.result_model_id,
      output_bytes: size,
      output: path.resolve(options.output),
      seconds: Number(process.hrtime.bigint() - started) / 1e9,
    });
    console.log(JSON.stringify(summary));
    return 0;
  } finally {
    client.close();
  }
}

async function main() {
  try {
    return await run(parseArguments(process.argv.slice(2)));
  } catch (error) {
    console.error(`condense_client.js: ${error.message}`);
    if (error instanceof Usage) {
      console.error(USAGE);
      return EXIT_USAGE;
    }
    return error instanceof Missing ? EXIT_MISSING : EXIT_CALL_FAILED;
  }
}

main().then((code) => { process.exitCode = code; });
