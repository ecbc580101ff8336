#!/usr/bin/env node
// bench-models-ort.js: times the inference rows of bench/bench_models.c in
// ONNX Runtime (the npm package onnxruntime-node, CPU execution provider).
//
// The models are the ONNX files that scripts/bench-models-torch.py
// --export-onnx DIR wrote from the same torchvision models PyTorch runs:
// DIR/onnx/<model>_<size>_<classes>.onnx, input "input" (batch, 3, size,
// size) float32. onnxruntime-node is loaded from DIR/node_modules (`make
// bench-peers` installs it there: npm install onnxruntime-node@1.30.0 with
// ONNXRUNTIME_NODE_INSTALL=skip, so its post-install step downloads nothing).
//
// Sessions: graphOptimizationLevel "all", executionMode "sequential",
// intraOpNumThreads = the row's thread count, interOpNumThreads 1; one
// session per thread count (ONNX Runtime fixes the pool when the session is
// created), built on the first request for that count.
//
// --serve is the co-process protocol of bench_models (tab-separated lines),
// the same as bench-models-torch.py's:
//   in:  load <name> <model> <mode> <size> <batch> <classes>
//   out: ok <seconds to build>          or   error <message>
//   in:  time <threads> <warmup> <lead seconds> <calls>
//   out: times <s1,s2,...> <CPU seconds this process used for the chunk> 0
// Only mode "infer" is served (training is not what ONNX Runtime's CPU
// sessions do); a train row gets an error and bench_models shows "-".
// A chunk is `warmup` untimed calls, then the lead (untimed calls for `lead
// seconds`, or a pause as long when one call takes longer), then `calls`
// timed calls, each timed alone with process.hrtime (the await of
// session.run included, as in any Node program).
//
//   node scripts/bench-models-ort.js --serve --dir DIR
'use strict';

const fs = require('fs');
const path = require('path');
const readline = require('readline');

function parseArgs(argv) {
  const args = { serve: false, dir: null };
  for (let i = 2; i < argv.length; i++) {
    if (argv[i] === '--serve') args.serve = true;
    else if (argv[i] === '--dir' && i + 1 < argv.length) args.dir = argv[++i];
    else throw new Error(`usage: bench-models-ort.js --serve --dir DIR (got ${argv[i]})`);
  }
  if (!args.serve || !args.dir) throw new Error('usage: bench-models-ort.js --serve --dir DIR');
  return args;
}

// A fixed pseudo-random input in [-1, 1) (an LCG; timing does not depend on
// the values).
function randomInput(n) {
  const x = new Float32Array(n);
  let state = 12345;
  for (let i = 0; i < n; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    x[i] = ((state >>> 8) & 0xffff) / 32768 - 1;
  }
  return x;
}

const seconds = () => Number(process.hrtime.bigint()) / 1e9;
const sleep = (s) => new Promise((resolve) => setTimeout(resolve, 1e3 * s));

class Runner {
  constructor(ort, file, size, batch) {
    this.ort = ort;
    this.file = file;
    this.sessions = new Map(); // threads -> session
    this.feeds = { input: new ort.Tensor('float32', randomInput(batch * 3 * size * size),
                                         [batch, 3, size, size]) };
    this.lastCall = 0;
  }

  async session(threads) {
    if (!this.sessions.has(threads)) {
      this.sessions.set(threads, await this.ort.InferenceSession.create(this.file, {
        graphOptimizationLevel: 'all', executionMode: 'sequential',
        intraOpNumThreads: threads, interOpNumThreads: 1,
      }));
    }
    return this.sessions.get(threads);
  }

  async release() {
    for (const s of this.sessions.values()) await s.release();
    this.sessions.clear();
  }

  async time(threads, warmup, lead, calls) {
    const s = await this.session(threads);
    for (let i = 0; i < warmup; i++) {
      const t0 = seconds();
      await s.run(this.feeds);
      this.lastCall = seconds() - t0;
    }
    if (lead > 0 && this.lastCall >= lead) {
      await sleep(lead);
    } else if (lead > 0) {
      const start = seconds();
      do await s.run(this.feeds);
      while (seconds() - start < lead);
    }
    const times = [];
    for (let i = 0; i < calls; i++) {
      const t0 = seconds();
      await s.run(this.feeds);
      times.push(seconds() - t0);
    }
    if (times.length) this.lastCall = [...times].sort((a, b) => a - b)[times.length >> 1];
    return times;
  }
}

async function serve(args) {
  const modulePath = path.join(path.resolve(args.dir), 'node_modules', 'onnxruntime-node');
  const ort = require(modulePath);
  const version = JSON.parse(fs.readFileSync(path.join(modulePath, 'package.json'))).version;
  process.stdout.write(`# onnxruntime-node ${version} (CPU execution provider) node ` +
                       `${process.version}\n`);
  let runner = null;
  const lines = readline.createInterface({ input: process.stdin, terminal: false });
  for await (const line of lines) {
    const f = line.split('\t');
    try {
      if (f[0] === 'load' && f.length === 7) {
        if (runner !== null) await runner.release();
        runner = null;
        const [model, mode, size, batch, classes] = [f[2], f[3], +f[4], +f[5], +f[6]];
        if (mode !== 'infer') throw new Error(`mode ${mode}: only inference rows are served`);
        const file = path.join(args.dir, 'onnx', `${model}_${size}_${classes}.onnx`);
        if (!fs.existsSync(file)) throw new Error(`${file} not found (make bench-peers exports it)`);
        const t0 = seconds();
        runner = new Runner(ort, file, size, batch);
        await runner.session(1);
        process.stdout.write(`ok\t${(seconds() - t0).toFixed(3)}\n`);
      } else if (f[0] === 'time' && f.length === 5 && runner !== null) {
        const cpu0 = process.cpuUsage();
        const times = await runner.time(+f[1], +f[2], +f[3], +f[4]);
        const cpu = process.cpuUsage(cpu0);
        process.stdout.write('times\t' + times.map((t) => t.toFixed(6)).join(',') +
                             `\t${((cpu.user + cpu.system) / 1e6).toFixed(4)}\t0\n`);
      } else {
        process.stdout.write(`error\tbad request ${JSON.stringify(line.trim())}\n`);
      }
    } catch (e) {
      process.stdout.write(`error\t${String(e.message || e).split('\n')[0]}\n`);
    }
  }
}

serve(parseArgs(process.argv)).catch((e) => {
  process.stderr.write(`bench-models-ort: ${e.message}\n`);
  process.exit(1);
});
