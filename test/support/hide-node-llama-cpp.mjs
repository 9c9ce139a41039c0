// `node --import` this file to run as on a machine where node-llama-cpp (an optional peer
// dependency) is not installed: resolving it fails as a missing package does.
import { register } from 'node:module';

const hook = `export async function resolve(specifier, context, next) {
  if (specifier === 'node-llama-cpp' || specifier.startsWith('node-llama-cpp/')) {
    const err = new Error("Cannot find package 'node-llama-cpp'");
    err.code = 'ERR_MODULE_NOT_FOUND';
    throw err;
  }
  return next(specifier, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hook)}`);
