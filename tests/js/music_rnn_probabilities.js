// Runs Magenta.js MusicRNN on exported models and writes what it computed, for
// tests/test_magenta_js.py to compare with melodylib.
//
//   node music_rnn_probabilities.js JOBS.json RESULTS.json
//
// JOBS.json is a list of {url, sequence, steps, temperature}: the model folder's URL, a
// quantized NoteSequence (plain object) to continue, how many steps to sample and at what
// temperature. RESULTS.json gets, per job, the classes MelodyConverter made of the primer, the
// classes sampled and the per-step softmax Magenta.js sampled them from (sampleRnn with
// returnProbs). Results go to a file because TensorFlow.js logs to stdout.
'use strict';

const fs = require('fs');
const musicRnn = require('@magenta/music/node/music_rnn');

async function runJob(job) {
  const model = new musicRnn.MusicRNN(job.url);
  await model.initialize();
  const inputs = model.dataConverter.toTensor(job.sequence);
  const primerClasses = Array.from(inputs.argMax(1).dataSync());
  const result = model.sampleRnn(
      inputs, job.steps, job.temperature, undefined, undefined, true);
  const sampledClasses = result.samples.map((row) => row.argMax().dataSync()[0]);
  const probabilities = result.probs.map((row) => Array.from(row.dataSync()));
  model.dispose();
  return {primerClasses, sampledClasses, probabilities};
}

async function main() {
  const [jobsPath, resultsPath] = process.argv.slice(2);
  const jobs = JSON.parse(fs.readFileSync(jobsPath, 'utf8'));
  const results = [];
  for (const job of jobs) {
    results.push(await runJob(job));
  }
  fs.writeFileSync(resultsPath, JSON.stringify(results));
}

main().catch((error) => {
  console.error(error && error.stack ? error.stack : String(error));
  process.exit(1);
});
