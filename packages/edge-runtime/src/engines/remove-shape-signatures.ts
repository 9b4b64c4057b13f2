/**
 * Returns a copy of a .tflite flatbuffer with every tensor's `shape_signature` field removed, so
 * a model exported with a dynamic batch (-1) declares its static `shape` instead, which the
 * TFLite converter writes with batch 1. It edits the raw bytes: the field's slot in each
 * tensor's vtable is set to 0, which flatbuffers read as "field absent". Field numbers follow
 * the TFLite schema: Model.subgraphs = 2, SubGraph.tensors = 0, Tensor.shape_signature = 7.
 */
export function removeShapeSignatures(model: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(model);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fieldPosition = (table: number, field: number): number | null => {
    const vtable = table - view.getInt32(table, true);
    const vtableSize = view.getUint16(vtable, true);
    const slot = vtable + 4 + field * 2;
    if (slot + 2 > vtable + vtableSize) return null;
    const offset = view.getUint16(slot, true);
    return offset === 0 ? null : table + offset;
  };
  const vectorTables = (table: number, field: number): number[] => {
    const position = fieldPosition(table, field);
    if (position === null) return [];
    const vector = position + view.getUint32(position, true);
    const length = view.getUint32(vector, true);
    return Array.from({ length }, (_, i) => {
      const element = vector + 4 + i * 4;
      return element + view.getUint32(element, true);
    });
  };
  const root = view.getUint32(0, true);
  for (const subgraph of vectorTables(root, 2)) {
    for (const tensor of vectorTables(subgraph, 0)) {
      const vtable = tensor - view.getInt32(tensor, true);
      const slot = vtable + 4 + 7 * 2;
      if (slot + 2 <= vtable + view.getUint16(vtable, true)) view.setUint16(slot, 0, true);
    }
  }
  return bytes;
}
