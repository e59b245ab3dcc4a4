package io.mm1j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.mm1j.Mm1Exception;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** Bad records are counted per report; each distinct warning is logged once per process, at most 3 per reason. */
class SkipReportTest {
    @Test
    void aSourceReadAgainDoesNotRepeatItsWarnings() {
        Logger log = (Logger) LoggerFactory.getLogger(SkipReport.class);
        ListAppender<ILoggingEvent> seen = new ListAppender<>();
        seen.start();
        log.addAppender(seen);
        try {
            String file = "skip-report-test-" + System.nanoTime() + ".json";
            for (int epoch = 0; epoch < 3; epoch++) { // a reader makes a fresh report each time it is read
                SkipReport r = SkipReport.lenient();
                for (int i = 0; i < 5; i++) {
                    r.skip(SkipReport.MISSING_IMAGE, file + ": images[" + i + "]", "a.jpg not found");
                }
                assertEquals(5, r.count(SkipReport.MISSING_IMAGE), "every skip is counted");
                assertEquals("5 skipped (missing image 5)", r.summary());
            }
            List<String> lines = seen.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
            assertEquals(List.of(
                    "skipped: " + file + ": images[0]: missing image: a.jpg not found",
                    "skipped: " + file + ": images[1]: missing image: a.jpg not found",
                    "skipped: " + file + ": images[2]: missing image: a.jpg not found (further 'missing image' "
                            + "warnings only counted)"), lines);
        } finally {
            log.detachAppender(seen);
        }
    }

    @Test
    void strictModeFailsOnTheFirstBadRecordNamingIt() {
        Mm1Exception e = assertThrows(Mm1Exception.class,
                () -> SkipReport.strict().skip(SkipReport.CORRUPT_JSON, "d.jsonl:7", "unexpected end"));
        assertEquals("d.jsonl:7: corrupt JSON: unexpected end", e.getMessage());
    }
}
