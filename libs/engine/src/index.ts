// The engine layer: choose tfjs or ONNX Runtime for a command's work (chooseEngine, forwardEngine) and
// open a checkpoint on it as the one Model interface (openModel); every command goes through it.
export * from './engine';
