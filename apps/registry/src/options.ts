// Flag handling shared by the policy and registry commands: where the registry is, the token,
// and argument parsing that turns a library error into a one-line UserError naming the argument.
import { defaultRegistryLocation, isRemoteLocation, openRegistry, parseRef, parseSource, readBearerToken, type PolicyRef, type PolicyRegistry, type PolicySource } from '@zotune/registry';
import { UserError } from '@zotune/report';

/** Read a bearer token (see readBearerToken), as a UserError on bad input. */
export function readToken(flag: string, file: string | undefined): string | undefined {
  try {
    return readBearerToken(file, flag);
  } catch (e) {
    throw new UserError((e as Error).message, 2);
  }
}

export function registryOf(location: string | undefined, tokenFile?: string): PolicyRegistry {
  const token = readToken('--token-file', tokenFile);
  try {
    return openRegistry(location ?? defaultRegistryLocation(), { token });
  } catch (e) {
    throw new UserError(`--registry: ${(e as Error).message}`, 2);
  }
}

/** A local directory flag (pull --to): URLs are refused. */
export function localDir(flag: string, value: string): string {
  if (isRemoteLocation(value)) throw new UserError(`${flag} ${value}: expected a local directory, not a URL`, 2);
  return value;
}

export function refArg(what: string, value: string): PolicyRef {
  try {
    return parseRef(value);
  } catch (e) {
    throw new UserError(`${what}: ${(e as Error).message}`, 2);
  }
}

export function sourceArg(what: string, value: string): PolicySource {
  try {
    return parseSource(value);
  } catch (e) {
    throw new UserError(`${what}: ${(e as Error).message}`, 2);
  }
}

/** `sha256:0123456789ab…` for human output. */
export function short(digest: string): string {
  return digest.slice(0, 'sha256:'.length + 12) + '…';
}
