package io.mm1j.eval;

import com.fasterxml.jackson.databind.JsonNode;
import java.math.BigDecimal;
import java.util.Iterator;
import java.util.Map;

/**
 * Python's {@code ==} on values parsed by its {@code json} module, where it differs from Jackson's
 * {@link JsonNode#equals}: numbers compare by value across types ({@code 1 == 1.0}) and {@code True == 1},
 * {@code False == 0}. The VQA evaluation compares whole answer objects this way to tell annotators apart.
 */
final class PythonJson {
    private PythonJson() {}

    /** Equal objects when the field {@code skip} (null: none) is ignored (it is compared separately). */
    static boolean equalExcept(JsonNode a, JsonNode b, String skip) {
        if (!a.isObject() || !b.isObject()) {
            return equal(a, b);
        }
        boolean sa = skip != null && a.has(skip);
        boolean sb = skip != null && b.has(skip);
        if (sa != sb || a.size() != b.size()) {
            return false;
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = a.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getKey().equals(skip) && (!b.has(e.getKey()) || !equal(e.getValue(), b.get(e.getKey())))) {
                return false;
            }
        }
        return true;
    }

    static boolean equal(JsonNode a, JsonNode b) {
        if (numeric(a) && numeric(b)) {
            if (a.isFloatingPointNumber() && !Double.isFinite(a.doubleValue())
                    || b.isFloatingPointNumber() && !Double.isFinite(b.doubleValue())) {
                return a.doubleValue() == b.doubleValue();
            }
            return value(a).compareTo(value(b)) == 0;
        }
        if (a.isObject() && b.isObject()) {
            return equalExcept(a, b, null);
        }
        if (a.isArray() && b.isArray()) {
            if (a.size() != b.size()) {
                return false;
            }
            for (int i = 0; i < a.size(); i++) {
                if (!equal(a.get(i), b.get(i))) {
                    return false;
                }
            }
            return true;
        }
        return a.equals(b);
    }

    private static boolean numeric(JsonNode n) {
        return n.isNumber() || n.isBoolean();
    }

    /** Exact value: a JSON float is a binary double in Python, compared exactly with integers. */
    private static BigDecimal value(JsonNode n) {
        if (n.isBoolean()) {
            return n.booleanValue() ? BigDecimal.ONE : BigDecimal.ZERO;
        }
        return n.isIntegralNumber() ? new BigDecimal(n.bigIntegerValue()) : new BigDecimal(n.doubleValue());
    }
}
