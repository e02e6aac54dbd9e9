// Original file: proto/depot/builder/v1/builder.proto


export interface WatchBuildsRequest {
}

export interface WatchBuildsRequest__Output {
}
