// Magenta.js's own NoteSequence (protobuf.js, @magenta/music 1.23.1) on melodylib's outputs, for
// tests/test_notesequence_proto.py. Usage: node notesequence_json.js REQUEST.json RESULT.json
//
// REQUEST: {"plain": [Magenta.js plain objects written by melodylib],
//           "protobuf": [hex of NoteSequence protobufs written by melodylib]}
// RESULT:  {"plain_encoded": [hex of NoteSequence.fromObject(object), encoded by Magenta.js],
//           "protobuf_json": [NoteSequence.decode(bytes).toJSON(), the canonical JSON]}
'use strict';
const fs = require('fs');
const {NoteSequence} = require('@magenta/music/node/protobuf');

const [requestPath, resultPath] = process.argv.slice(2);
const request = JSON.parse(fs.readFileSync(requestPath, 'utf8'));
const hex = (bytes) => Buffer.from(bytes).toString('hex');
const result = {
  plain_encoded: request.plain.map((object) => {
    const problem = NoteSequence.verify(object);
    if (problem) {
      throw new Error(`Magenta.js refuses the object: ${problem}`);
    }
    return hex(NoteSequence.encode(NoteSequence.fromObject(object)).finish());
  }),
  protobuf_json: request.protobuf.map(
      (text) => NoteSequence.decode(Buffer.from(text, 'hex')).toJSON()),
};
fs.writeFileSync(resultPath, JSON.stringify(result));
