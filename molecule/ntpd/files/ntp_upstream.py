# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A minimal NTP server for tests: answers client requests with this machine's own clock.

Usage: python3 ntp_upstream.py ADDRESS [PORT]

It reports stratum 1 (reference id LOCL), so an ntpd under test selects it as its system
peer, and because its time is the very clock that ntpd would discipline, the measured offset
stays at the network jitter: nothing ever has a reason to step or slew the clock.
"""
import socket
import struct
import sys
import time

NTP_EPOCH_OFFSET = 2208988800  # seconds from 1900-01-01 (NTP era 0) to 1970-01-01


def ntp_timestamp(unix_time):
    seconds = int(unix_time)
    return ((seconds + NTP_EPOCH_OFFSET) << 32) | int((unix_time - seconds) * (1 << 32))


def answer(request, received):
    first = request[0]
    version = (first >> 3) & 0x7
    mode = first & 0x7
    if len(request) < 48 or mode != 3:  # only client requests
        return None
    client_transmit = struct.unpack('!Q', request[40:48])[0]
    now = time.time()
    header = (0 << 6) | (version << 3) | 4  # leap 0, server mode
    return struct.pack(
        '!BBbbII4sQQQQ',
        header, 1, 6, -20,        # stratum 1, poll 2^6, precision ~1 us
        0, 0x00000010,            # root delay 0, root dispersion ~0.25 ms
        b'LOCL',
        ntp_timestamp(now - 1),   # reference time
        client_transmit,          # origin = the client's transmit time
        ntp_timestamp(received),
        ntp_timestamp(time.time()))


def main():
    address = sys.argv[1]
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 123
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((address, port))
    print('ntp_upstream: serving %s:%d' % (address, port), flush=True)
    while True:
        request, client = sock.recvfrom(1024)
        reply = answer(request, time.time())
        if reply:
            sock.sendto(reply, client)


if __name__ == '__main__':
    main()
