package import OTLP

/// Requests held in memory, oldest first: where a batch waits when the spool will not take it (or there is no
/// spool), within a bound of bytes past which the oldest go, counted as lost. A pure value: the exporter keeps it
/// under its lock.
package struct MemoryStore {
    /// A request held, numbered in the order it came.
    package struct Request: Sendable {
        package var number: Int
        package var body: [UInt8]
        package var signal: OTLPSignal
        package var wireProtocol: OTLPExporterConfiguration.WireProtocol
        package var itemCount: Int
    }

    package private(set) var requests: [Request] = []
    private var bytes = 0
    private var nextNumber = 0
    package let maximumBytes: Int

    package init(maximumBytes: Int) {
        self.maximumBytes = maximumBytes
    }

    /// Holds a request; returns the requests let go to stay within the bound (never the one just held).
    package mutating func hold(
        _ body: [UInt8],
        signal: OTLPSignal,
        wireProtocol: OTLPExporterConfiguration.WireProtocol,
        itemCount: Int
    ) -> [Request] {
        requests.append(
            Request(number: nextNumber, body: body, signal: signal, wireProtocol: wireProtocol, itemCount: itemCount)
        )
        nextNumber += 1
        bytes += body.count
        var lost: [Request] = []
        while bytes > maximumBytes, requests.count > 1 {
            let oldest = requests.removeFirst()
            bytes -= oldest.body.count
            lost.append(oldest)
        }
        return lost
    }

    /// Lets go of a request, once delivered or refused for good.
    package mutating func remove(_ number: Int) {
        guard let index = requests.firstIndex(where: { $0.number == number }) else { return }
        bytes -= requests.remove(at: index).body.count
    }
}
