import { type DynamicModule, Module } from '@nestjs/common';
import { ServeStaticModule } from '@nestjs/serve-static';
import { UiMissingController } from './ui-missing.controller.js';
import { adminUiDirectory } from './ui-directory.js';

/**
 * The built Angular admin UI at `/` on the admin listener. Files are public (the UI itself asks for
 * the password); deep links (`/keys`, `/usage`) fall back to index.html; `/api/*` never does, so an
 * unknown API route stays a JSON 404. Without a build, `/` says how to make one.
 */
@Module({})
export class AdminUiModule {
  static forRoot(directory = adminUiDirectory()): DynamicModule {
    if (!directory) return { module: AdminUiModule, controllers: [UiMissingController] };
    return {
      module: AdminUiModule,
      imports: [
        ServeStaticModule.forRoot({
          rootPath: directory,
          exclude: ['/api/{*path}', '/metrics', '/healthz', '/readyz'],
          serveStaticOptions: {
            // Hashed file names can be cached for good; index.html must be revalidated.
            setHeaders: (response, path) => {
              response.setHeader('cache-control', path.endsWith('index.html') ? 'no-cache' : 'public, max-age=31536000, immutable');
            },
          },
        }),
      ],
    };
  }
}
