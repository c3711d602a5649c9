export interface InstallPaths {
  lockFile: string;
  nodeModulesDir: string;
  stampFile: string;
}
export function installMismatch(paths: InstallPaths): string | undefined;
