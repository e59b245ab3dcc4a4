package io.mm1j;

import ai.djl.ndarray.NDManager;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/** Base for tests that create NDArrays: a fresh sub-manager of the shared engine per test, closed afterwards. */
public abstract class ManagedNdTest {
    protected NDManager m;

    @BeforeEach
    void openManager() {
        m = TestSupport.root().newSubManager();
    }

    @AfterEach
    void closeManager() {
        m.close();
    }
}
