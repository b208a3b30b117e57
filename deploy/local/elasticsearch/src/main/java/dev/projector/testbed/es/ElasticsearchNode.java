package dev.projector.testbed.es;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.concurrent.CountDownLatch;

import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.node.MockNode;
import org.elasticsearch.transport.netty4.Netty4Plugin;
import org.junit.Test;
import org.junit.runner.JUnitCore;
import org.junit.runner.Result;
import org.junit.runner.RunWith;
import org.junit.runner.notification.Failure;

import com.carrotsearch.randomizedtesting.RandomizedRunner;
import com.carrotsearch.randomizedtesting.annotations.ThreadLeakScope;
import com.carrotsearch.randomizedtesting.annotations.Timeout;
import com.carrotsearch.randomizedtesting.annotations.TimeoutSuite;

/**
 * Runs one real Elasticsearch 8 node in this JVM for projector's tests.
 *
 * <p>Usage: {@code ElasticsearchNode <base-dir> [setting=value ...]}; every
 * setting goes to the node unchanged (search.sh owns the values). The node
 * keeps home and data under base-dir and runs until the JVM gets SIGTERM or
 * SIGINT, which closes it through a shutdown hook.
 *
 * <p>The test framework's MockNode starts a node from plugins on the
 * classpath, but parts of it expect to run inside a randomized-testing
 * context, so the node runs as the one long test of a RandomizedRunner
 * suite, without time-outs or thread-leak checks.
 */
@RunWith(RandomizedRunner.class)
@ThreadLeakScope(ThreadLeakScope.Scope.NONE)
@TimeoutSuite(millis = Integer.MAX_VALUE)
public class ElasticsearchNode {

    /** The command line, for the test method, which JUnit calls without arguments. */
    private static volatile String[] arguments = new String[0];

    public static void main(final String[] args) {
        if (args.length < 1) {
            System.err.println("usage: ElasticsearchNode <base-dir> [setting=value ...]");
            System.exit(2);
        }
        arguments = args.clone();
        final Result result = JUnitCore.runClasses(ElasticsearchNode.class);
        for (final Failure f : result.getFailures()) {
            System.err.println("elasticsearch node failed: " + f.getTrace());
        }
        System.exit(result.wasSuccessful() ? 0 : 1);
    }

    @Test
    @Timeout(millis = Integer.MAX_VALUE)
    public void runNode() throws Exception {
        final Path base = Paths.get(arguments[0]).toAbsolutePath();
        final Path home = base.resolve("home");
        Files.createDirectories(home.resolve("config"));
        final Settings.Builder settings = Settings.builder()
                .put("path.home", home.toString())
                .put("path.data", base.resolve("data").toString())
                .put("path.logs", base.resolve("logs").toString());
        for (int i = 1; i < arguments.length; i++) {
            final int eq = arguments[i].indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("expected setting=value, got: " + arguments[i]);
            }
            settings.put(arguments[i].substring(0, eq), arguments[i].substring(eq + 1));
        }
        final MockNode node = new MockNode(settings.build(), List.of(Netty4Plugin.class, RootPlugin.class));
        final CountDownLatch closed = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
            } catch (Exception e) {
                System.err.println("error while closing the node: " + e);
            } finally {
                closed.countDown();
            }
        }, "elasticsearch-node-shutdown"));
        node.start();
        System.out.println("elasticsearch node started");
        closed.await();
    }
}
