// How to install each prerequisite the launcher may find missing, on the two families of
// machines users start from. Every "not found" message ends with one of these, so the user
// learns the command, not only the name.
export type Prerequisite = 'java17' | 'java21' | 'maven' | 'tar' | 'useradd' | 'chromium';

const INSTALL: Record<Prerequisite, { debian: string; macos: string }> = {
  java17: {
    debian: 'apt-get install openjdk-17-jre-headless',
    macos: 'brew install openjdk@17',
  },
  java21: {
    // Debian 13 ships 21 as openjdk-21; Ubuntu 24.04 too.
    debian: 'apt-get install openjdk-21-jre-headless',
    macos: 'brew install openjdk@21',
  },
  maven: { debian: 'apt-get install maven', macos: 'brew install maven' },
  tar: { debian: 'apt-get install tar', macos: 'tar ships with macOS' },
  useradd: { debian: 'apt-get install passwd', macos: 'not needed: run as a normal user' },
  // The console's browser tests and the report screenshot (puppeteer-core downloads no browser).
  chromium: { debian: 'apt-get install chromium', macos: 'brew install --cask chromium' },
};

/** " (Debian/Ubuntu: apt-get install maven; macOS: brew install maven)" */
export function installHint(prerequisite: Prerequisite): string {
  const { debian, macos } = INSTALL[prerequisite];
  return `install it with \`${debian}\` on Debian/Ubuntu or \`${macos}\` on macOS`;
}
