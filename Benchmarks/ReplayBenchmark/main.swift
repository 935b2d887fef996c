// Replay throughput on a large generated session: `swift run -c release ReplayBenchmark [MEGABYTES]`.
// Prints figures; asserts nothing. The session mixes lines as a real one does: mostly content deltas, then items,
// token usage and turn boundaries, with command outputs of a few kilobytes.
import CodexTelemetry
import Foundation

let targetMegabytes = CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? 256

func session(megabytes: Int) -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(megabytes << 20 + (1 << 20))
    func line(_ text: String) {
        bytes.append(contentsOf: text.utf8)
        bytes.append(0x0A)
    }
    let output = String(repeating: "output line of a command, as long as some real ones are\\n", count: 64)
    let thread = "01a1fd2b-8f93-7031-a39d-9a260bc6174e"
    line(
        #"{"id":2,"result":{"thread":{"id":"\#(thread)","forkedFromId":null},"model":"gpt-5.5","modelProvider":"openai"}}"#
    )
    var turn = 0
    var total = 0
    var time = 1_795_248_852_000
    while bytes.count < megabytes << 20 {
        turn += 1
        time += 1000
        let turnID = "turn-\(turn)"
        line(
            #"{"method":"turn/started","params":{"threadId":"\#(thread)","turn":{"id":"\#(turnID)","items":[],"status":"inProgress"}},"emittedAtMs":\#(time)}"#
        )
        for chunk in 0..<200 {
            line(
                #"{"method":"item/agentMessage/delta","params":{"threadId":"\#(thread)","turnId":"\#(turnID)","itemId":"msg","delta":"some words of the answer, chunk \#(chunk) "},"emittedAtMs":\#(time)}"#
            )
        }
        for call in 0..<3 {
            let item = "call_\(turn)_\(call)"
            line(
                #"{"method":"item/started","params":{"item":{"type":"commandExecution","id":"\#(item)","command":"make test","status":"inProgress"},"threadId":"\#(thread)","turnId":"\#(turnID)","startedAtMs":\#(time)},"emittedAtMs":\#(time)}"#
            )
            for _ in 0..<40 {
                line(
                    #"{"method":"item/commandExecution/outputDelta","params":{"threadId":"\#(thread)","turnId":"\#(turnID)","itemId":"\#(item)","delta":"a line of output from the build\n"},"emittedAtMs":\#(time)}"#
                )
            }
            line(
                #"{"method":"item/completed","params":{"item":{"type":"commandExecution","id":"\#(item)","command":"make test","status":"completed","aggregatedOutput":"\#(output)","exitCode":0,"durationMs":40},"threadId":"\#(thread)","turnId":"\#(turnID)","completedAtMs":\#(time + 40)},"emittedAtMs":\#(time + 40)}"#
            )
            total += 1000
            line(
                #"{"method":"thread/tokenUsage/updated","params":{"threadId":"\#(thread)","turnId":"\#(turnID)","tokenUsage":{"total":{"totalTokens":\#(total),"inputTokens":\#(total),"cachedInputTokens":\#(total / 2),"outputTokens":\#(total / 10),"reasoningOutputTokens":\#(total / 20)},"last":{"totalTokens":1000,"inputTokens":1000,"cachedInputTokens":500,"outputTokens":100,"reasoningOutputTokens":50}}},"emittedAtMs":\#(time + 50)}"#
            )
        }
        line(
            #"{"method":"turn/completed","params":{"threadId":"\#(thread)","turn":{"id":"\#(turnID)","items":[],"status":"completed","durationMs":900}},"emittedAtMs":\#(time + 900)}"#
        )
    }
    return bytes
}

let data = session(megabytes: targetMegabytes)
let megabytes = Double(data.count) / Double(1 << 20)
print(String(format: "session: %.0f MiB", megabytes))

for run in 1...3 {
    let clock = ContinuousClock()
    var replay = SessionReplay()
    var eventCount = 0
    let elapsed = clock.measure {
        data.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let chunk = UnsafeRawBufferPointer(rebasing: bytes[offset..<min(bytes.count, offset + (1 << 20))])
                eventCount += replay.consume(chunk).count
                offset += chunk.count
            }
        }
        eventCount += replay.finishFile().count
    }
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    print(
        String(
            format: "run %d: %.2f s, %.0f MiB/s, %.0f lines/s, %d events (%d lines passed over, %d followed)",
            run,
            seconds,
            megabytes / seconds,
            Double(replay.counts.lines) / seconds,
            eventCount,
            replay.counts.passedOver,
            replay.counts.followed
        )
    )
}
