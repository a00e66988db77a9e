// Runs the Khronos glTF validator on one .glb file and prints its report as JSON: the test suite
// reads the counts and the messages.
import { readFile } from 'node:fs/promises';
import { validateBytes } from 'gltf-validator';

const path = process.argv[2];
const report = await validateBytes(new Uint8Array(await readFile(path)), { uri: path, maxIssues: 100 });
console.log(JSON.stringify({
  errors: report.issues.numErrors,
  warnings: report.issues.numWarnings,
  infos: report.issues.numInfos,
  messages: report.issues.messages.map((m) => `${m.severity} ${m.code} ${m.pointer ?? ''}: ${m.message}`),
  vertices: report.info?.totalVertexCount,
  triangles: report.info?.totalTriangleCount,
}));
