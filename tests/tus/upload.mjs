// Interoperability: the stock tus-js-client (web/node_modules) uploads FILE to a running
// tipline-server, several PATCHes of CHUNK bytes, is aborted once mid-way and resumed from
// the offset the server reports. Prints {"url", "accepted", "resumedFrom"} as JSON on success.
//
//   node tests/tus/upload.mjs BASE_URL DRAFT_TOKEN FILE
// BASE_URL is e.g. http://127.0.0.1:8443; exit status 0 on success, 1 otherwise.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

// ES modules ignore NODE_PATH: resolve the package from the web/ folder's node_modules.
const require = createRequire(new URL('../../web/package.json', import.meta.url));
const tus = require('tus-js-client');

const CHUNK = 512 * 1024;
const [base, draft, file] = process.argv.slice(2);
if (!file) {
  console.error('usage: node upload.mjs BASE_URL DRAFT_TOKEN FILE');
  process.exit(1);
}
const data = readFileSync(file);

const common = {
  chunkSize: CHUNK,
  retryDelays: [],
  // The file name goes with the metadata as browsers send it; the server must ignore it.
  metadata: { draft, filename: 'witness-photo.jpg' },
};

// Uploads until at least two chunks are accepted, then aborts; resolves with the URL.
function uploadPart() {
  return new Promise((resolve, reject) => {
    const upload = new tus.Upload(data, {
      ...common,
      endpoint: `${base}/api/v1/uploads`,
      onError: reject,
      onSuccess: () => reject(new Error('finished before it could be interrupted')),
      onChunkComplete: (_size, accepted) => {
        if (accepted < 2 * CHUNK) return;
        upload.abort(false).then(() => resolve({ url: upload.url, accepted }), reject);
      },
    });
    upload.start();
  });
}

// Resumes the upload at `url`: tus-js-client asks HEAD for the offset, then PATCHes the rest.
function resume(url) {
  return new Promise((resolve, reject) => {
    let resumedFrom = -1;
    const upload = new tus.Upload(data, {
      ...common,
      uploadUrl: url,
      onError: reject,
      // The offset of the first PATCH: where the server said the upload stood.
      onBeforeRequest: (request) => {
        if (resumedFrom < 0 && request.getMethod() === 'PATCH') {
          resumedFrom = Number(request.getHeader('Upload-Offset'));
        }
      },
      onSuccess: () => resolve(resumedFrom),
    });
    upload.start();
  });
}

try {
  const part = await uploadPart();
  // Let the aborted request's connection close before the resumed one starts.
  await new Promise((resolve) => setTimeout(resolve, 200));
  const resumedFrom = await resume(part.url);
  console.log(JSON.stringify({ url: part.url, accepted: part.accepted, resumedFrom }));
} catch (error) {
  console.error(`upload failed: ${error.message ?? error}`);
  process.exit(1);
}
