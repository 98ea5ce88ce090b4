// A ustar archive of picked files, as a Blob that references the files instead of copying them into memory.
const BLOCK = 512;
const encoder = new TextEncoder();

function writeField(header, offset, length, value) {
  header.set(encoder.encode(value).subarray(0, length), offset);
}

function octal(value, length) {
  return value.toString(8).padStart(length - 1, "0") + "\0";
}

function splitName(path) {
  // ustar keeps 100 bytes of name plus 155 of prefix, split at a slash.
  const bytes = encoder.encode(path);
  if (bytes.length <= 100) return { name: path, prefix: "" };
  for (let cut = path.lastIndexOf("/"); cut > 0; cut = path.lastIndexOf("/", cut - 1)) {
    const prefix = path.slice(0, cut);
    const name = path.slice(cut + 1);
    if (encoder.encode(prefix).length <= 155 && encoder.encode(name).length <= 100) return { name, prefix };
  }
  return null;
}

function header(path, size, mtimeSeconds) {
  const parts = splitName(path);
  if (!parts) return null;
  const block = new Uint8Array(BLOCK);
  writeField(block, 0, 100, parts.name);
  writeField(block, 100, 8, octal(0o644, 8));
  writeField(block, 108, 8, octal(0, 8));
  writeField(block, 116, 8, octal(0, 8));
  writeField(block, 124, 12, octal(size, 12));
  writeField(block, 136, 12, octal(mtimeSeconds, 12));
  writeField(block, 148, 8, "        ");
  writeField(block, 156, 1, "0");
  writeField(block, 257, 6, "ustar\0");
  writeField(block, 263, 2, "00");
  writeField(block, 345, 155, parts.prefix);
  const checksum = block.reduce((sum, byte) => sum + byte, 0);
  writeField(block, 148, 8, checksum.toString(8).padStart(6, "0") + "\0 ");
  return block;
}

export function tarOf(files) {
  const pieces = [];
  for (const file of files) {
    const block = header(file.webkitRelativePath || file.name, file.size, Math.floor(file.lastModified / 1000));
    if (!block) continue; // a path too long for ustar: the server reports the missing file count
    pieces.push(block, file);
    const padding = (BLOCK - (file.size % BLOCK)) % BLOCK;
    if (padding) pieces.push(new Uint8Array(padding));
  }
  pieces.push(new Uint8Array(2 * BLOCK));
  return new Blob(pieces, { type: "application/x-tar" });
}
