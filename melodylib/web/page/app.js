// The page of `melody_rnn serve_web`: piano keys enter a primer, Magenta.js's MusicRNN (the
// global `music_rnn`, over TensorFlow.js's global `tf`) continues it, Web Audio plays it and an
// SVG piano roll shows it. Everything is served by the local server: see lib/source.json.
'use strict';

(function () {
  const NAMES = ['C', 'C#', 'D', 'D#', 'E', 'F', 'F#', 'G', 'G#', 'A', 'A#', 'B'];
  const BLACK = new Set([1, 3, 6, 8, 10]);
  const WHITE_WIDTH = 36;
  const BLACK_WIDTH = 24;
  const MAX_KEYS = 25; // two octaves and a note
  const QPM = 120;

  const page = {
    spec: null,
    stepsPerQuarter: 4,
    model: null,
    primer: [], // entries {pitch (null for a rest), steps}
    continuation: null, // {notes: [{pitch, start, end}], totalSteps}
  };

  const element = (id) => document.getElementById(id);

  function pitchName(pitch) {
    return NAMES[pitch % 12] + (Math.floor(pitch / 12) - 1);
  }

  function setStatus(text, isError) {
    const status = element('status');
    status.textContent = text;
    status.classList.toggle('error', Boolean(isError));
  }

  // ---- sound ------------------------------------------------------------------------------
  let audio = null;

  function audioContext() {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) {
      return null;
    }
    if (!audio) {
      audio = new Context();
    }
    if (audio.state === 'suspended') {
      audio.resume();
    }
    return audio;
  }

  function tone(pitch, startSeconds, durationSeconds) {
    const context = audioContext();
    if (!context) {
      return;
    }
    const start = context.currentTime + 0.05 + startSeconds;
    const end = start + durationSeconds;
    const oscillator = context.createOscillator();
    const gain = context.createGain();
    oscillator.type = 'triangle';
    oscillator.frequency.value = 440 * Math.pow(2, (pitch - 69) / 12);
    gain.gain.setValueAtTime(0, start);
    gain.gain.linearRampToValueAtTime(0.2, start + 0.01);
    gain.gain.setValueAtTime(0.2, Math.max(start + 0.02, end - 0.04));
    gain.gain.linearRampToValueAtTime(0, end);
    oscillator.connect(gain).connect(context.destination);
    oscillator.start(start);
    oscillator.stop(end + 0.02);
  }

  function secondsPerStep() {
    return 60 / QPM / page.stepsPerQuarter;
  }

  function play() {
    const step = secondsPerStep();
    const primer = primerNotes();
    primer.notes.forEach((n) => tone(n.pitch, n.start * step, (n.end - n.start) * step));
    if (page.continuation) {
      page.continuation.notes.forEach((n) => tone(
          n.pitch, (primer.totalSteps + n.start) * step, (n.end - n.start) * step));
    }
  }

  // ---- the primer -------------------------------------------------------------------------
  function primerNotes() {
    const notes = [];
    let cursor = 0;
    page.primer.forEach((entry) => {
      if (entry.pitch !== null) {
        notes.push({pitch: entry.pitch, start: cursor, end: cursor + entry.steps});
      }
      cursor += entry.steps;
    });
    return {notes, totalSteps: cursor};
  }

  function primerSequence() {
    const primer = primerNotes();
    return {
      notes: primer.notes.map((n) => ({
        pitch: n.pitch, quantizedStartStep: n.start, quantizedEndStep: n.end, velocity: 100,
      })),
      quantizationInfo: {stepsPerQuarter: page.stepsPerQuarter},
      tempos: [{time: 0, qpm: QPM}],
      totalQuantizedSteps: primer.totalSteps,
    };
  }

  function addToPrimer(pitch) {
    const steps = Number(element('note-length').value);
    page.primer.push({pitch, steps});
    page.continuation = null;
    if (pitch !== null) {
      tone(pitch, 0, steps * secondsPerStep());
    }
    refresh();
  }

  // ---- the keyboard -----------------------------------------------------------------------
  function keyRange(minPitch, maxPitch) {
    const count = Math.min(MAX_KEYS, maxPitch - minPitch + 1);
    // Middle C (60) first if the range allows, else as close to it as the range goes.
    const lowest = Math.max(minPitch, Math.min(60, maxPitch - count + 1));
    return [lowest, lowest + count - 1];
  }

  function buildKeyboard(minPitch, maxPitch) {
    const keyboard = element('keyboard');
    keyboard.textContent = '';
    const [lowest, highest] = keyRange(minPitch, maxPitch);
    let whites = 0;
    for (let pitch = lowest; pitch <= highest; pitch++) {
      const key = document.createElement('button');
      const black = BLACK.has(pitch % 12);
      key.type = 'button';
      key.className = 'key ' + (black ? 'black' : 'white');
      key.dataset.pitch = String(pitch);
      key.setAttribute('aria-label', pitchName(pitch));
      key.title = pitchName(pitch);
      key.textContent = black ? '' : pitchName(pitch);
      key.style.left = black ?
          (whites * WHITE_WIDTH - BLACK_WIDTH / 2) + 'px' :
          (whites * WHITE_WIDTH) + 'px';
      if (!black) {
        whites += 1;
      }
      key.addEventListener('click', () => addToPrimer(pitch));
      keyboard.appendChild(key);
    }
    keyboard.style.width = (whites * WHITE_WIDTH) + 'px';
  }

  // ---- the piano roll ---------------------------------------------------------------------
  function drawRoll() {
    const svg = element('roll');
    const namespace = 'http://www.w3.org/2000/svg';
    svg.textContent = '';
    const primer = primerNotes();
    const continuation = page.continuation || {notes: [], totalSteps: 0};
    const notes = primer.notes.map((n) => ({...n, part: 'primer'})).concat(
        continuation.notes.map((n) => ({
          pitch: n.pitch, start: n.start + primer.totalSteps, end: n.end + primer.totalSteps,
          part: 'continuation',
        })));
    const totalSteps = Math.max(16, primer.totalSteps + continuation.totalSteps);
    const pitches = notes.map((n) => n.pitch);
    const low = pitches.length ? Math.min(...pitches) - 2 : 58;
    const high = pitches.length ? Math.max(...pitches) + 2 : 74;
    const rowHeight = 10;
    const stepWidth = 10;
    svg.setAttribute('viewBox', `0 0 ${totalSteps * stepWidth} ${(high - low + 1) * rowHeight}`);
    svg.setAttribute('preserveAspectRatio', 'none');
    const add = (name, attributes) => {
      const node = document.createElementNS(namespace, name);
      Object.entries(attributes).forEach(([key, value]) => node.setAttribute(key, value));
      svg.appendChild(node);
      return node;
    };
    const stepsPerBar = 4 * page.stepsPerQuarter;
    for (let step = 0; step <= totalSteps; step += stepsPerBar) {
      add('line', {x1: step * stepWidth, x2: step * stepWidth, y1: 0,
        y2: (high - low + 1) * rowHeight, stroke: '#ddd'});
    }
    add('line', {x1: primer.totalSteps * stepWidth, x2: primer.totalSteps * stepWidth, y1: 0,
      y2: (high - low + 1) * rowHeight, stroke: '#c44', 'stroke-dasharray': '4 3'});
    notes.forEach((n) => {
      const rect = add('rect', {
        x: n.start * stepWidth + 0.5, y: (high - n.pitch) * rowHeight + 0.5,
        width: Math.max(1, (n.end - n.start) * stepWidth - 1), height: rowHeight - 1,
        class: 'note ' + n.part,
      });
      const title = document.createElementNS(namespace, 'title');
      title.textContent = `${pitchName(n.pitch)}, steps ${n.start}..${n.end}`;
      rect.appendChild(title);
    });
  }

  // ---- continuing -------------------------------------------------------------------------
  async function continueMelody() {
    const steps = Math.round(Number(element('steps').value));
    const temperature = Number(element('temperature').value);
    if (!(steps >= 1)) {
      setStatus('Give at least one step to add.', true);
      return;
    }
    element('continue').disabled = true;
    setStatus('Continuing\u2026');
    const started = performance.now();
    try {
      const sequence = await page.model.continueSequence(primerSequence(), steps, temperature);
      const notes = sequence.notes.map((n) => ({
        pitch: n.pitch, start: n.quantizedStartStep || 0, end: n.quantizedEndStep,
      }));
      page.continuation = {notes, totalSteps: sequence.totalQuantizedSteps};
      const seconds = (performance.now() - started) / 1000;
      const result = element('result');
      result.dataset.requestedSteps = String(steps);
      result.dataset.totalSteps = String(sequence.totalQuantizedSteps);
      result.dataset.primerSteps = String(primerNotes().totalSteps);
      result.dataset.notes = JSON.stringify(notes);
      result.dataset.temperature = String(temperature);
      setStatus(`Added ${sequence.totalQuantizedSteps} steps (${notes.length} notes: ` +
          `${notes.map((n) => pitchName(n.pitch)).join(' ') || 'all rests'}) ` +
          `in ${seconds.toFixed(2)} s at temperature ${temperature.toFixed(1)}.`);
      refresh();
      play();
    } catch (error) {
      setStatus('Magenta.js could not continue: ' + error, true);
    } finally {
      element('continue').disabled = page.primer.length === 0;
    }
  }

  function refresh() {
    const ready = page.model !== null;
    element('continue').disabled = !ready || page.primer.length === 0;
    element('play').disabled = page.primer.length === 0;
    if (!page.continuation) {
      element('result').dataset.totalSteps = '';
    }
    drawRoll();
  }

  // ---- start ------------------------------------------------------------------------------
  async function fetchJson(url, required) {
    const response = await fetch(url, {cache: 'no-store'});
    if (!response.ok) {
      if (required) {
        throw new Error(`${url}: HTTP ${response.status}`);
      }
      return null;
    }
    return response.json();
  }

  async function start() {
    element('temperature').addEventListener('input', () => {
      element('temperature-value').textContent = Number(element('temperature').value).toFixed(1);
    });
    element('rest').addEventListener('click', () => addToPrimer(null));
    element('undo').addEventListener('click', () => {
      page.primer.pop();
      page.continuation = null;
      refresh();
    });
    element('clear').addEventListener('click', () => {
      page.primer = [];
      page.continuation = null;
      refresh();
    });
    element('continue').addEventListener('click', continueMelody);
    element('play').addEventListener('click', play);
    refresh();

    const source = await fetchJson('lib/source.json', true);
    element('source').textContent = `Magenta.js ${source.magentaJsVersion} (${source.magentaJs})` +
        ` and TensorFlow.js ${source.tensorflowJsVersion} (${source.tensorflowJs}) are served by ` +
        'melody_rnn serve_web from that node_modules folder; the page fetches nothing from the ' +
        'internet.';
    page.spec = await fetchJson('model/config.json', true);
    const details = await fetchJson('model/melodylib.json', false);
    if (details && details.steps_per_quarter) {
      page.stepsPerQuarter = details.steps_per_quarter;
    }
    const {minPitch, maxPitch} = page.spec.dataConverter.args;
    buildKeyboard(minPitch, maxPitch);
    // A melody model runs one small step at a time, where TensorFlow.js's CPU backend beats
    // WebGL's per-operation overhead; ?backend=webgl picks WebGL instead.
    const backend = new URLSearchParams(window.location.search).get('backend') || 'cpu';
    if (!(await tf.setBackend(backend))) {
      await tf.ready();
    }
    page.model = new music_rnn.MusicRNN('model', page.spec);
    await page.model.initialize();
    const name = details && details.config ? details.config.name : 'model';
    const info = element('model-info');
    info.textContent = `${name}: pitches ${pitchName(minPitch)} to ${pitchName(maxPitch)} ` +
        `(${minPitch}..${maxPitch}), ${page.stepsPerQuarter} steps per quarter note; ` +
        `TensorFlow.js runs on its ${tf.getBackend()} backend.`;
    info.dataset.minPitch = String(minPitch);
    info.dataset.maxPitch = String(maxPitch);
    info.dataset.ready = 'true';
    refresh();
  }

  start().catch((error) => setStatus('The model could not be loaded: ' + error, true));
})();
