package dev.projector.testbed;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.codelibs.opensearch.runner.OpenSearchRunner;

/**
 * Starts one real OpenSearch node in this JVM for local tests.
 *
 * <p>Usage: {@code SearchNode <base-dir> [setting=value ...]}. Every setting is
 * passed verbatim to the node (search.sh owns the values). The node runs until
 * the JVM gets SIGTERM/SIGINT, which closes it cleanly through a shutdown hook.
 *
 * <p>Layout under base-dir: {@code home/} (node home + config), {@code data/},
 * {@code logs/}. Data survives restarts; the config is rewritten every start.
 */
public final class SearchNode {

    private SearchNode() {
    }

    public static void main(final String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: SearchNode <base-dir> [setting=value ...]");
            System.exit(2);
        }
        final Path base = Paths.get(args[0]).toAbsolutePath();
        final Map<String, String> settings = parseSettings(args);
        final Path conf = base.resolve("home").resolve("config");
        Files.createDirectories(conf);
        // Our own log4j config (console only, stdout is captured by search.sh);
        // the runner would otherwise write several rolling files per node.
        copyResource("log4j2.properties", conf.resolve("log4j2.properties"));

        final OpenSearchRunner runner = new OpenSearchRunner();
        // No port probing: http.port is given, and probing caps ports at 9299.
        runner.setMaxHttpPort(-1);
        runner.onBuild((id, builder) -> settings.forEach(builder::put));

        final CountDownLatch closed = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                runner.close();
            } catch (IOException e) {
                System.err.println("error while closing the node: " + e);
            } finally {
                closed.countDown();
            }
        }, "search-node-shutdown"));

        try {
            runner.build(
                    "-basePath", base.resolve("home").toString(),
                    "-confPath", conf.toString(),
                    "-dataPath", base.resolve("data").toString(),
                    "-logsPath", base.resolve("logs").toString(),
                    "-numOfNode", "1",
                    // The runner prints base+1 as the node's port; keep that
                    // in line with the http.port we actually set.
                    "-baseHttpPort", String.valueOf(Integer.parseInt(settings.getOrDefault("http.port", "9200")) - 1),
                    "-clusterName", settings.getOrDefault("cluster.name", "projector-test"));
        } catch (RuntimeException e) {
            // The runner's own main() swallows this; we want the cause in the
            // log, and the whole cause chain on the last line for search.sh.
            e.printStackTrace();
            final StringBuilder chain = new StringBuilder("search node failed to start: ").append(e.getMessage());
            for (Throwable c = e.getCause(); c != null; c = c.getCause()) {
                chain.append(" <- ").append(c);
            }
            System.err.println(chain);
            System.exit(1);
        }
        System.out.println("search node started");
        closed.await();
    }

    private static Map<String, String> parseSettings(final String[] args) {
        final Map<String, String> settings = new LinkedHashMap<>();
        final List<String> bad = new ArrayList<>();
        for (int i = 1; i < args.length; i++) {
            final int eq = args[i].indexOf('=');
            if (eq <= 0) {
                bad.add(args[i]);
                continue;
            }
            settings.put(args[i].substring(0, eq), args[i].substring(eq + 1));
        }
        if (!bad.isEmpty()) {
            System.err.println("expected setting=value, got: " + bad);
            System.exit(2);
        }
        return settings;
    }

    private static void copyResource(final String name, final Path target) throws IOException {
        try (InputStream in = SearchNode.class.getResourceAsStream("/dev/projector/testbed/" + name)) {
            if (in == null) {
                throw new IOException("resource missing from the launcher jar: " + name);
            }
            Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
