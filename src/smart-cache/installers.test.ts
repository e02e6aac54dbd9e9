import assert from 'node:assert/strict';
import { test } from 'node:test';
import { installIn } from './installers.js';

test('installIn names the install a RUN command runs, and nothing for commands that only look alike', () => {
  const cases: Array<[string, string | undefined]> = [
    ['npm ci', 'npm'],
    ['npm install --omit=dev', 'npm'],
    ['npm run build', undefined],
    ['yarn', 'yarn'],
    ['yarn install --frozen-lockfile', 'yarn'],
    ['yarn && yarn build', 'yarn'],
    ['yarn build', undefined],
    ['pnpm install --frozen-lockfile', 'pnpm'],
    ['pip install -r requirements.txt', 'pip'],
    ['poetry install --no-root', 'poetry'],
    ['go mod download', 'go'],
    ['go build ./...', undefined],
    ['bundle install', 'bundler'],
    ['composer install --no-dev', 'composer'],
    ['cargo fetch', 'cargo'],
    ['apt-get update && npm ci', 'npm'],
    ['pip install -r requirements.txt && npm ci', 'pip'],
  ];
  for (const [command, tool] of cases) assert.equal(installIn(command)?.name, tool, command);
});
