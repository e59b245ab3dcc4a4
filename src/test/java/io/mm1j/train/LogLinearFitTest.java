package io.mm1j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class LogLinearFitTest {
    @Test
    void lineMatchesTheHandWorkedLeastSquares() {
        // x̄ = 2, ȳ = 10/3; Sxy = 3, Sxx = 2, Syy = 42/9 → slope 3/2, intercept 10/3 − 3 = 1/3, r² = 9/(2·14/3) = 27/28
        LogLinearFit.Line l = LogLinearFit.line(new double[] {1, 2, 3}, new double[] {2, 3, 5});
        assertEquals(1.5, l.slope(), 1e-12);
        assertEquals(1.0 / 3, l.intercept(), 1e-12);
        assertEquals(27.0 / 28, l.r2(), 1e-12);
    }

    @Test
    void lineRecoversMm1sLawFromItsOwnPredictions() {
        double[] lnN = {Math.log(9e6), Math.log(85e6), Math.log(302e6), Math.log(1.2e9)};
        double[] lnLr = new double[4];
        for (int i = 0; i < 4; i++) {
            lnLr[i] = Math.log(LrLaw.MM1.peakLr(Math.exp(lnN[i])));
        }
        LogLinearFit.Line l = LogLinearFit.line(lnN, lnLr);
        assertEquals(-0.4214, l.slope(), 1e-12);
        assertEquals(-0.5535, l.intercept(), 1e-10);
    }

    @Test
    void parabolaThroughThreePointsIsExact() {
        // y = (x − 0.3)² + 1 = x² − 0.6x + 1.09 at x = −1, 0, 1 → 2.69, 1.09, 1.49
        LogLinearFit.Parabola p = LogLinearFit.parabola(new double[] {-1, 0, 1}, new double[] {2.69, 1.09, 1.49});
        assertEquals(1, p.a(), 1e-12);
        assertEquals(-0.6, p.b(), 1e-12);
        assertEquals(1.09, p.c(), 1e-12);
    }

    @Test
    void bestLrIsTheVertexInLogLrAveragedOverSeeds() {
        // ln LR = −2 … 2, loss (x − 0.3)² + 1 = 6.29, 2.69, 1.09, 1.49, 3.89; two seeds at ±0.05 around it
        double[] x = {-2, -1, 0, 1, 2};
        double[] y = {6.29, 2.69, 1.09, 1.49, 3.89};
        double[] lrs = new double[10];
        double[] loss = new double[10];
        for (int i = 0; i < 5; i++) {
            lrs[2 * i] = Math.exp(x[i]);
            lrs[2 * i + 1] = Math.exp(x[i]);
            loss[2 * i] = y[i] + 0.05;
            loss[2 * i + 1] = y[i] - 0.05;
        }
        for (int half : new int[] {1, 2}) {
            LogLinearFit.Minimum m = LogLinearFit.bestLr(lrs, loss, half);
            assertEquals(Math.exp(0.3), m.lr(), 1e-9, "half-width " + half);
            assertEquals(1.0, m.gridBest(), 1e-12);
            assertTrue(m.bracketed());
            assertTrue(m.fitted());
        }
    }

    @Test
    void minimumAtTheGridEdgeIsReportedAsNotBracketed() {
        LogLinearFit.Minimum m = LogLinearFit.bestLr(new double[] {1e-3, 2e-3, 4e-3}, new double[] {3.0, 2.5, 2.2}, 2);
        assertFalse(m.bracketed());
        assertEquals(4e-3, m.gridBest(), 0);
        assertTrue(m.lr() <= 4e-3 + 1e-15, "the vertex is kept within the fitted LRs: " + m.lr());
    }

    @Test
    void divergedRunsAreLeftOutOfTheFit() {
        double[] lrs = {Math.exp(-1), Math.exp(0), Math.exp(1), Math.exp(2)};
        double[] loss = {2.69, 1.09, 1.49, Double.NaN};
        LogLinearFit.Minimum m = LogLinearFit.bestLr(lrs, loss, 2);
        assertEquals(Math.exp(0.3), m.lr(), 1e-9);
    }

    /** An LR where one seed diverged is left out whole: its surviving seed's low loss does not make it the best. */
    @Test
    void anLrWhereAnySeedDivergedIsLeftOut() {
        double[] lrs = {Math.exp(-1), Math.exp(-1), Math.exp(0), Math.exp(0), Math.exp(1), Math.exp(1), Math.exp(2),
            Math.exp(2)};
        double[] loss = {2.69, 2.69, 1.09, 1.09, 1.49, 1.49, 0.5, Double.NaN};
        LogLinearFit.Minimum m = LogLinearFit.bestLr(lrs, loss, 2);
        assertEquals(Math.exp(0), m.gridBest(), 1e-12);
        assertEquals(Math.exp(0.3), m.lr(), 1e-9);
    }
}
